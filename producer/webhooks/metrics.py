"""Webhook figures for /metrics, read from the delivery log at each scrape (producer/metrics.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schemas.tables import WebhookAttempt, WebhookDelivery
from schemas.webhooks import AttemptOutcome, DeliveryState

# attempts are counted over a recent window, not since the start: the event-log retention
# deletes old attempts, and a total that shrinks would read as counter resets
RECENT = timedelta(minutes=15)


def webhook_families(session: Session, *, now: datetime) -> list[Metric]:
    """Attempts of the last 15 minutes by outcome, and deliveries by state."""
    attempts = dict.fromkeys((o.value for o in AttemptOutcome), 0)
    for outcome, count in session.execute(
        select(WebhookAttempt.outcome, func.count())
        .where(WebhookAttempt.started_at >= now - RECENT)
        .group_by(WebhookAttempt.outcome)
    ):
        attempts[outcome] = count
    deliveries = dict.fromkeys((s.value for s in DeliveryState), 0)
    for state, count in session.execute(
        select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)
    ):
        deliveries[state] = count
    recent = GaugeMetricFamily(
        "mediaq_webhook_delivery_attempts_recent",
        "Webhook POSTs started in the last 15 minutes, by outcome (delivered, http_error, "
        "network_error, refused).",
        labels=["outcome"],
    )
    for outcome, count in sorted(attempts.items()):
        recent.add_metric([outcome], count)
    gauge = GaugeMetricFamily(
        "mediaq_webhook_deliveries",
        "Webhook deliveries (event x endpoint) by state.",
        labels=["state"],
    )
    for state, count in sorted(deliveries.items()):
        gauge.add_metric([state], count)
    return [recent, gauge]
