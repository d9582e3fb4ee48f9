"""schedule.run events: every run outcome is reported, and reaches the schedule's endpoint."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from standardwebhooks import Webhook

from producer.settings import Settings
from producer.webhooks.relay import fan_out
from schemas.tables import WebhookDelivery
from tests.producer.test_api_schedules import schedule_body
from tests.producer.test_scheduler import T0, Clock, add_schedule, make_scheduler, schedule_events
from tests.producer.webhook_world import Receiver, register, relay_until_settled


def test_each_outcome_of_a_cron_run_is_an_event(embedded_settings: Settings) -> None:
    # Given an hourly schedule whose scheduler was down for four runs
    schedule_id = add_schedule(embedded_settings, tenant="t-ev", now=T0, cron="0 * * * *")
    scheduler = make_scheduler(embedded_settings, Clock(T0 + timedelta(hours=5, minutes=1)))
    try:
        # When the scheduler comes back
        scheduler.run_once()
    finally:
        scheduler.firing.db.dispose()
    # Then the missed runs and the run it fired are each reported once
    events = schedule_events(embedded_settings, schedule_id)
    assert [(e["outcome"], e["missed_runs"], e["trigger"]) for e in events] == [
        ("skipped_missed", 4, "cron"),
        ("created", 0, "cron"),
    ]
    created = events[1]
    assert created["batch_id"] and created["item_count"] == 2
    assert created["scheduled_for"] == (T0 + timedelta(hours=5)).isoformat()
    assert created["schedule_name"] == "drop" and created["webhook_endpoint_id"] is None


def test_the_schedules_endpoint_gets_its_runs_whatever_it_subscribed_to(
    world: dict[str, Any], receiver: Receiver, local_settings: Settings
) -> None:
    # Given three endpoints of one tenant: the schedule's own (default types), one subscribed
    # to schedule.run, one neither; and another tenant's endpoint subscribed to schedule.run
    own = register(world["a"], receiver.url)
    subscribed = register(world["a"], receiver.url, event_types=["schedule.run"])
    bystander = register(world["a"], receiver.url)
    stranger = register(world["b"], receiver.url, event_types=["schedule.run"])
    made = world["a"].post("/v1/schedules", json=schedule_body(webhook_endpoint_id=own["id"]))
    assert made.status_code == 201, made.text
    # When the schedule is run now
    run = world["a"].post(f"/v1/schedules/{made.json()['id']}/run").json()
    assert run["outcome"] == "created"
    # Then its schedule.run event is delivered to the schedule's endpoint and the subscriber only
    svc = world["app"].state.services
    with svc.db.session() as session:
        fan_out(session=session)
    with svc.db.read_session() as session:
        addressed = set(
            session.execute(
                select(WebhookDelivery.endpoint_id).where(
                    WebhookDelivery.event_type == "schedule.run"
                )
            ).scalars()
        )
    assert addressed == {own["id"], subscribed["id"]}
    assert bystander["id"] not in addressed and stranger["id"] not in addressed
    relay_until_settled(world, local_settings)
    bodies = [
        json.loads(body)
        for headers, body in receiver.requests
        if _signed_by(own["secret"], body, headers) and json.loads(body)["type"] == "schedule.run"
    ]
    assert len(bodies) == 1
    data = bodies[0]["data"]
    assert (data["run_id"], data["batch_id"], data["outcome"]) == (
        run["id"],
        run["batch_id"],
        "created",
    )
    assert data["trigger"] == "manual" and data["webhook_endpoint_id"] == own["id"]


def _signed_by(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except Exception:
        return False
    return True
