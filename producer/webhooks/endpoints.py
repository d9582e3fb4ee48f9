"""A tenant's webhook endpoints and their delivery log: keyword-only queries, tenant-scoped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from producer.ids import as_utc, new_id, utcnow
from producer.netguard import AddressRefused, CheckedUrl, check_url
from producer.webhooks.secrets_box import encrypt_secret, new_webhook_secret
from schemas.tables import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from schemas.webhooks import (
    DeliveryState,
    WebhookAttemptView,
    WebhookDeliveryView,
    WebhookEndpointCreated,
    WebhookEndpointSpec,
    WebhookEndpointView,
)

MAX_ENDPOINTS_PER_TENANT = 50


class TooManyEndpoints(Exception):
    """The tenant has MAX_ENDPOINTS_PER_TENANT endpoints already."""


def check_target(url: str, *, allow_private: bool) -> CheckedUrl:
    """The checks every delivery repeats: https (http too with the escape hatch), public address.

    Raises:
        AddressRefused: naming the reason.
    """
    return check_url(url, allow_private=allow_private, is_http_allowed=allow_private)


def create_endpoint(
    *, session: Session, tenant_id: str, spec: WebhookEndpointSpec, server_secret: bytes
) -> WebhookEndpointCreated:
    """Store the endpoint with a new signing secret, returned here and never again.

    Raises:
        TooManyEndpoints: the tenant is at the limit.
    """
    count = session.execute(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.deleted_at.is_(None))
    ).scalar_one()
    if count >= MAX_ENDPOINTS_PER_TENANT:
        raise TooManyEndpoints(tenant_id)
    endpoint_id, secret = new_id(), new_webhook_secret()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        tenant_id=tenant_id,
        url=spec.url,
        event_types=list(dict.fromkeys(t.value for t in spec.event_types)),
        description=spec.description,
        secret_encrypted=encrypt_secret(
            secret=secret, endpoint_id=endpoint_id, server_secret=server_secret
        ),
        # the endpoint gets what happens from now on, not the log's history
        after_event_id=session.execute(select(func.max(Event.id))).scalar_one_or_none() or 0,
        created_at=utcnow(),
    )
    session.add(endpoint)
    return WebhookEndpointCreated(**endpoint_view(endpoint).model_dump(), secret=secret)


def rotate_secret(
    *, session: Session, endpoint: WebhookEndpoint, grace_s: int, server_secret: bytes
) -> WebhookEndpointCreated:
    """A new signing secret, returned here and never again; the current one keeps signing
    beside it for `grace_s` (a previous secret still in its grace period is dropped)."""
    now, secret = utcnow(), new_webhook_secret()
    if grace_s > 0:
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted
        endpoint.previous_secret_expires_at = now + timedelta(seconds=grace_s)
    else:
        endpoint.previous_secret_encrypted = endpoint.previous_secret_expires_at = None
    endpoint.secret_encrypted = encrypt_secret(
        secret=secret, endpoint_id=endpoint.id, server_secret=server_secret
    )
    session.flush()
    return WebhookEndpointCreated(**endpoint_view(endpoint).model_dump(), secret=secret)


def endpoint_view(endpoint: WebhookEndpoint) -> WebhookEndpointView:
    expires_at = as_utc(endpoint.previous_secret_expires_at)
    return WebhookEndpointView(
        id=endpoint.id,
        url=endpoint.url,
        event_types=endpoint.event_types,
        description=endpoint.description,
        created_at=as_utc(endpoint.created_at),
        rotation_grace_until=expires_at if expires_at and expires_at > utcnow() else None,
    )


def list_endpoints(*, session: Session, tenant_id: str) -> list[WebhookEndpointView]:
    endpoints = session.execute(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.deleted_at.is_(None))
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    ).scalars()
    return [endpoint_view(endpoint) for endpoint in endpoints]


def get_endpoint(*, session: Session, tenant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
    if "\x00" in endpoint_id:  # no such id, and PostgreSQL refuses NUL in a query parameter
        return None
    return session.execute(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.tenant_id == tenant_id,
            WebhookEndpoint.deleted_at.is_(None),
        )
    ).scalar_one_or_none()


def delete_endpoint(*, session: Session, tenant_id: str, endpoint_id: str) -> bool:
    """Stop sending to the endpoint; its delivery log stays readable per job.

    Returns:
        False when the tenant has no such endpoint.
    """
    endpoint = get_endpoint(session=session, tenant_id=tenant_id, endpoint_id=endpoint_id)
    if endpoint is None:
        return False
    now = utcnow()
    endpoint.deleted_at = now
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.state == DeliveryState.PENDING,
        )
        .values(state=DeliveryState.FAILED, finished_at=now, next_attempt_at=None)
    )
    return True


def endpoint_deliveries(
    *, session: Session, endpoint_id: str, limit: int, before_event_id: int | None
) -> list[WebhookDeliveryView]:
    """The endpoint's newest deliveries first (the caller has checked the tenant)."""
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if before_event_id is not None:
        query = query.where(WebhookDelivery.event_id < before_event_id)
    query = query.order_by(WebhookDelivery.event_id.desc()).limit(limit)
    return _views(session=session, deliveries=session.execute(query).scalars().all())


def job_deliveries(*, session: Session, tenant_id: str, job_id: str) -> list[WebhookDeliveryView]:
    """Every delivery of the job's events, to any endpoint, oldest first."""
    deliveries = session.execute(
        select(WebhookDelivery)
        .where(WebhookDelivery.job_id == job_id, WebhookDelivery.tenant_id == tenant_id)
        .order_by(WebhookDelivery.event_id, WebhookDelivery.endpoint_id)
    ).scalars()
    return _views(session=session, deliveries=list(deliveries))


def _views(*, session: Session, deliveries: Sequence[WebhookDelivery]) -> list[WebhookDeliveryView]:
    attempts: dict[str, list[WebhookAttemptView]] = {d.id: [] for d in deliveries}
    if deliveries:
        rows = session.execute(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(WebhookAttempt.attempt)
        ).scalars()
        for row in rows:
            attempts[row.delivery_id].append(_attempt_view(row))
    return [
        WebhookDeliveryView(
            id=d.id,
            endpoint_id=d.endpoint_id,
            event_id=d.event_id,
            event_type=d.event_type,
            job_id=d.job_id,
            state=d.state,
            attempt_count=d.attempts,
            next_attempt_at=as_utc(d.next_attempt_at),
            created_at=as_utc(d.created_at),
            finished_at=as_utc(d.finished_at),
            attempts=attempts[d.id],
        )
        for d in deliveries
    ]


def _attempt_view(row: WebhookAttempt) -> WebhookAttemptView:
    return WebhookAttemptView(
        attempt=row.attempt,
        outcome=row.outcome,
        status_code=row.status_code,
        error=row.error,
        response_body=row.response_body,
        started_at=as_utc(row.started_at),
        finished_at=as_utc(row.finished_at),
        next_attempt_at=as_utc(row.next_attempt_at),
    )


__all__ = [
    "AddressRefused",
    "TooManyEndpoints",
    "check_target",
    "create_endpoint",
    "delete_endpoint",
    "endpoint_deliveries",
    "get_endpoint",
    "job_deliveries",
    "list_endpoints",
]
