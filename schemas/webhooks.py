"""Pydantic models of the webhook endpoints API and its delivery log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import DEFAULT_WEBHOOK_EVENTS, EventType

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # attempts ran out, or the endpoint was deleted


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"  # 2xx
    HTTP_ERROR = "http_error"  # any other status (redirects are not followed)
    NETWORK_ERROR = "network_error"  # no answer: refused, reset, timed out, TLS
    REFUSED = "refused"  # the URL's address failed the checks at delivery time


class WebhookEndpointSpec(BaseModel):
    """A webhook endpoint to register."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=2000,
        description="https URL on a public address; checked now and again at every delivery.",
    )
    event_types: list[EventType] = Field(
        default_factory=lambda: list(DEFAULT_WEBHOOK_EVENTS),
        min_length=1,
        description="Event types to send; default: terminal job events and batch.completed.",
    )
    description: str = Field(default="", max_length=256, pattern=NO_NUL)


class WebhookEndpointView(BaseModel):
    id: str
    url: str
    event_types: list[EventType]
    description: str
    created_at: datetime
    rotation_grace_until: datetime | None = Field(
        default=None,
        description="After a secret rotation: until then deliveries carry a signature by the "
        "previous secret as well as by the new one.",
    )


class WebhookSecretRotation(BaseModel):
    """Rotate an endpoint's signing secret."""

    model_config = ConfigDict(extra="forbid")

    grace_s: int = Field(
        default=86400,
        ge=0,
        le=7 * 86400,
        description="How long the previous secret keeps signing beside the new one, so "
        "receivers can switch without dropping deliveries; 0 drops it at once.",
    )


class WebhookEndpointCreated(WebhookEndpointView):
    secret: str = Field(
        description="The signing secret (whsec_...): shown only in this response; verify "
        "deliveries with any Standard Webhooks library."
    )


class WebhookEndpointList(BaseModel):
    endpoints: list[WebhookEndpointView]


class WebhookAttemptView(BaseModel):
    attempt: int
    outcome: AttemptOutcome
    status_code: int | None = Field(description="The receiver's HTTP status, when it answered.")
    error: str | None = Field(description="Why no usable answer came, when none did.")
    response_body: str | None = Field(description="The first KiB of the receiver's answer.")
    started_at: datetime
    finished_at: datetime
    next_attempt_at: datetime | None = Field(description="When the next attempt was scheduled.")


class WebhookDeliveryView(BaseModel):
    id: str
    endpoint_id: str
    event_id: int = Field(description="The event id; also the webhook-id header of every try.")
    event_type: EventType
    job_id: str | None
    state: DeliveryState
    attempt_count: int
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    attempts: list[WebhookAttemptView]


class WebhookDeliveryList(BaseModel):
    deliveries: list[WebhookDeliveryView]
