"""Webhook figures for /metrics, read from the delivery log at each scrape (producer/metrics.py)."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schemas.tables import WebhookAttempt, WebhookDelivery
from schemas.webhooks import AttemptOutcome, DeliveryState


def webhook_families(session: Session) -> list[Metric]:
    """Attempts by outcome (a counter: attempts are never deleted) and deliveries by state."""
    attempts = dict.fromkeys((o.value for o in AttemptOutcome), 0)
    for outcome, count in session.execute(
        select(WebhookAttempt.outcome, func.count()).group_by(WebhookAttempt.outcome)
    ):
        attempts[outcome] = count
    deliveries = dict.fromkeys((s.value for s in DeliveryState), 0)
    for state, count in session.execute(
        select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)
    ):
        deliveries[state] = count
    counter = CounterMetricFamily(
        "mediaq_webhook_delivery_attempts",
        "Webhook POSTs made, by outcome (delivered, http_error, network_error, refused).",
        labels=["outcome"],
    )
    for outcome, count in sorted(attempts.items()):
        counter.add_metric([outcome], count)
    gauge = GaugeMetricFamily(
        "mediaq_webhook_deliveries",
        "Webhook deliveries (event x endpoint) by state.",
        labels=["state"],
    )
    for state, count in sorted(deliveries.items()):
        gauge.add_metric([state], count)
    return [counter, gauge]
