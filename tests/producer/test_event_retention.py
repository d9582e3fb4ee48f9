"""Event log retention: old events go, unless the webhook relay still needs them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from producer.api.events import read_events
from producer.event_retention import prune_events
from producer.ids import utcnow
from producer.reconciler import reconcile_once
from producer.settings import Settings
from producer.webhooks.relay import fan_out, relay_once
from schemas.tables import Event, WebhookAttempt, WebhookDelivery
from tests.producer.test_events import run_everything
from tests.producer.webhook_world import (
    Receiver,
    register,
    relay_until_settled,
    submit,
)

DAY_S = 86400.0


def counts(world: dict[str, Any]) -> dict[str, int]:
    with world["app"].state.services.db.read_session() as session:
        return {
            table.__tablename__: session.execute(
                select(func.count()).select_from(table)
            ).scalar_one()
            for table in (Event, WebhookDelivery, WebhookAttempt)
        }


def prune(world: dict[str, Any], *, days_later: float) -> int:
    with world["app"].state.services.db.session() as session:
        return prune_events(
            session=session, retention_s=DAY_S, now=utcnow() + timedelta(days=days_later)
        )


def test_events_younger_than_the_retention_stay_and_older_ones_go(world: dict[str, Any]) -> None:
    # Given a finished batch and nobody listening for webhooks
    submit(world["a"], count=2)
    run_everything(world["ctx"])
    written = counts(world)["event"]
    assert written > 0
    # When the log is pruned with a one-day retention, today and two days later
    assert prune(world, days_later=0) == 0
    assert counts(world)["event"] == written
    assert prune(world, days_later=2) == written
    # Then the old rows are gone, and a new event still gets a new id
    assert counts(world)["event"] == 0
    accepted = submit(world["a"])
    fresh = read_events(world["app"].state.services.db, tenant_id="newsroom", cursor=0)
    assert [row.batch_id for row in fresh] == [accepted["id"]]


def test_events_a_webhook_still_waits_for_are_kept_until_delivered(
    world: dict[str, Any], receiver: Receiver, local_settings: Settings
) -> None:
    # Given an endpoint of one tenant that fails its first answers, so deliveries are pending
    register(world["a"], receiver.url, event_types=["job.succeeded"])
    receiver.script = [500, 500]
    submit(world["a"], count=2)
    submit(world["b"], count=1)
    run_everything(world["ctx"])
    svc = world["app"].state.services
    relay_once(db=svc.db, settings=local_settings, server_secret=svc.secret, owner="test")
    before = counts(world)
    assert before["webhook_delivery"] == 2
    # When the log is pruned after the retention has passed
    pruned = prune(world, days_later=2)
    # Then only the two events whose deliveries are pending are left
    after = counts(world)
    assert (pruned, after["event"]) == (before["event"] - 2, 2)
    assert after["webhook_delivery"] == 2
    # and once they are delivered, they go with their deliveries and attempts
    relay_until_settled(world, local_settings)
    assert prune(world, days_later=2) == 2
    assert counts(world) == {"event": 0, "webhook_delivery": 0, "webhook_attempt": 0}


def test_events_the_relay_has_not_fanned_out_are_kept(
    world: dict[str, Any], receiver: Receiver
) -> None:
    # Given an endpoint, and events written after the relay's last fan-out
    register(world["a"], receiver.url)
    svc = world["app"].state.services
    with svc.db.session() as session:
        fan_out(session=session)
    submit(world["a"])
    run_everything(world["ctx"])
    waiting = counts(world)["event"]
    # When the log is pruned long after
    # Then nothing goes: the relay has yet to turn those events into deliveries
    assert prune(world, days_later=30) == 0
    assert counts(world)["event"] == waiting


def test_the_reconciler_prunes_unless_retention_is_zero(
    world: dict[str, Any], local_settings: Settings
) -> None:
    submit(world["a"])
    svc = world["app"].state.services
    with svc.db.session() as session:
        session.execute(Event.__table__.update().values(created_at=utcnow() - timedelta(days=30)))
    written = counts(world)["event"]
    keep = local_settings.model_copy(update={"event_retention_days": 0})
    reconcile_once(db=svc.db, app=svc.celery, settings=keep)
    assert counts(world)["event"] == written
    reconcile_once(db=svc.db, app=svc.celery, settings=local_settings)
    assert counts(world)["event"] == 0


def test_the_page_bounds_one_pass(world: dict[str, Any], monkeypatch: Any) -> None:
    import producer.event_retention as retention

    monkeypatch.setattr(retention, "PRUNE_PAGE", 3)
    submit(world["a"], count=3)
    run_everything(world["ctx"])
    written = counts(world)["event"]
    assert written > 3
    assert prune(world, days_later=2) == 3
    assert counts(world)["event"] == written - 3
