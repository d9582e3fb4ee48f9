"""Webhook figures for /metrics, read from the delivery log at each scrape (producer/metrics.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from producer.metric_families import grouped_counts, labelled_gauge
from schemas.tables import WebhookAttempt, WebhookDelivery
from schemas.webhooks import AttemptOutcome, DeliveryState

# attempts are counted over a recent window, not since the start: the event-log retention
# deletes old attempts, and a total that shrinks would read as counter resets
RECENT = timedelta(minutes=15)


def webhook_families(session: Session, *, now: datetime) -> list[Metric]:
    """Attempts of the last 15 minutes by outcome, and deliveries by state."""
    attempts = grouped_counts(
        session,
        select(WebhookAttempt.outcome, func.count())
        .where(WebhookAttempt.started_at >= now - RECENT)
        .group_by(WebhookAttempt.outcome),
        keys=(o.value for o in AttemptOutcome),
    )
    deliveries = grouped_counts(
        session,
        select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state),
        keys=(s.value for s in DeliveryState),
    )
    return [
        labelled_gauge(
            "mediaq_webhook_delivery_attempts_recent",
            "Webhook POSTs started in the last 15 minutes, by outcome (delivered, http_error, "
            "network_error, refused).",
            label="outcome",
            values=attempts,
        ),
        labelled_gauge(
            "mediaq_webhook_deliveries",
            "Webhook deliveries (event x endpoint) by state.",
            label="state",
            values=deliveries,
        ),
    ]
