"""Deadlines: validation at submission, earliest-deadline-first dispatch, and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from producer.crud import stale_stage_runs
from producer.db import Database
from producer.ids import utcnow
from producer.reconciler import reconcile_once
from producer.settings import Settings
from schemas.tables import Job, StageRun
from tests.producer.test_api_batches import assert_problem
from workers.context import WorkerContext
from workers.runner import run_stage


def item(custom_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "language": "en",
        "headline": "Harbor bridge reopens",
        "body": "The bridge reopened on Tuesday after repairs.",
        **extra,
    }


def in_s(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def submit(client: TestClient, items: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/batches", json={"template": "voiceover", "items": items, **fields})
    assert response.status_code == 202, response.text
    return response.json()


def first_stage_ids(settings: Settings, batch_id: str) -> list[str]:
    db = Database(settings.resolved_database_url())
    try:
        with db.read_session() as session:
            return list(
                session.execute(
                    select(StageRun.id)
                    .join(Job, Job.id == StageRun.job_id)
                    .where(Job.batch_id == batch_id, StageRun.name == "script")
                    .order_by(Job.position)
                ).scalars()
            )
    finally:
        db.dispose()


def test_a_deadline_in_the_past_or_without_offset_is_refused_naming_the_field(
    api_client: TestClient,
) -> None:
    past = {"template": "voiceover", "items": [item("a")], "deadline": in_s(-60)}
    assert_problem(api_client.post("/v1/batches", json=past), 422, "deadline")
    naive = {**past, "deadline": "2099-01-01T00:00:00"}
    assert_problem(api_client.post("/v1/batches", json=naive), 422, "deadline")
    unix = {**past, "deadline": 4102444800}
    assert_problem(api_client.post("/v1/batches", json=unix), 422, "deadline")
    bad_item = {"template": "voiceover", "items": [item("a", deadline="tomorrow")]}
    assert_problem(api_client.post("/v1/batches", json=bad_item), 422, "items[0].deadline")
    old_item = {"template": "voiceover", "items": [item("a", deadline=in_s(-1))]}
    assert_problem(api_client.post("/v1/batches", json=old_item), 422, "items[0].deadline")


def test_an_item_deadline_overrides_the_batch_and_both_are_shown(api_client: TestClient) -> None:
    batch_deadline = in_s(3600)
    item_deadline = (datetime.now(UTC) + timedelta(seconds=600)).astimezone(
        # an offset other than UTC: stored and shown as the same instant
        timezone_plus_2()
    )
    body = submit(
        api_client,
        [item("a", deadline=item_deadline.isoformat()), item("b")],
        deadline=batch_deadline,
    )
    view = api_client.get(body["status_url"]).json()
    assert datetime.fromisoformat(view["deadline"]) == datetime.fromisoformat(batch_deadline)
    job_a = api_client.get(f"/v1/jobs/{body['jobs'][0]['id']}").json()
    job_b = api_client.get(f"/v1/jobs/{body['jobs'][1]['id']}").json()
    assert datetime.fromisoformat(job_a["deadline"]) == item_deadline
    assert datetime.fromisoformat(job_b["deadline"]) == datetime.fromisoformat(batch_deadline)


def timezone_plus_2() -> Any:
    from datetime import timezone

    return timezone(timedelta(hours=2))


def test_within_a_priority_the_earlier_deadline_is_resent_first(
    api_client: TestClient, embedded_settings: Settings
) -> None:
    # Given two batches at the same priority, the later deadline submitted first
    late = submit(api_client, [item("late")], deadline=in_s(7200))
    none = submit(api_client, [item("none")])
    early = submit(api_client, [item("early")], deadline=in_s(600))
    urgent = submit(api_client, [item("urgent")], priority=9)
    # When every first stage is stuck queued and the reconciler picks what to send again
    db = Database(embedded_settings.resolved_database_url())
    try:
        with db.session() as session:
            session.execute(update(StageRun).values(queued_at=utcnow() - timedelta(hours=1)))
            messages = stale_stage_runs(session=session, queued_before_s=60, limit=10)
    finally:
        db.dispose()
    # Then priority first, then earliest deadline, then no deadline
    order = [first_stage_ids(embedded_settings, b["id"])[0] for b in (urgent, early, late, none)]
    assert [m.stage_run_id for m in messages] == order


def test_a_batch_dispatches_its_items_earliest_deadline_first(
    api_client: TestClient, embedded_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    monkeypatch.setattr(
        "producer.api.batches.send_stage_runs",
        lambda *, app, settings, messages: sent.extend(m.stage_run_id for m in messages),
    )
    body = submit(
        api_client,
        [item("a"), item("b", deadline=in_s(900)), item("c", deadline=in_s(300))],
    )
    ids = first_stage_ids(embedded_settings, body["id"])  # in item order a, b, c
    assert sent == [ids[2], ids[1], ids[0]]


@pytest.fixture
def ctx(embedded_settings: Settings) -> WorkerContext:
    context = WorkerContext.from_settings(embedded_settings)
    yield context
    context.close()


def pass_deadline(ctx: WorkerContext, job_id: str) -> None:
    """As if the clock ran past the job's deadline while its stage waited in the queue."""
    with ctx.db.session() as session:
        session.execute(
            update(Job).where(Job.id == job_id).values(deadline=utcnow() - timedelta(seconds=1))
        )


def test_a_job_whose_deadline_passes_while_queued_expires_and_never_runs(
    api_client: TestClient, ctx: WorkerContext
) -> None:
    body = submit(api_client, [item("a"), item("b")], deadline=in_s(600))
    job_id = body["jobs"][0]["id"]
    pass_deadline(ctx, job_id)
    # a worker that takes the message skips the stage and ends the job expired
    script_id = first_stage_ids(ctx.settings, body["id"])[0]
    assert run_stage(script_id, ctx=ctx).status == "expired"
    job = api_client.get(f"/v1/jobs/{job_id}").json()
    assert job["state"] == "expired"
    assert [(s["state"], s["error_class"]) for s in job["stages"]] == [
        ("canceled", "expired"),
        ("canceled", "expired"),
    ]
    assert job["stages"][0]["outputs"] == [] and "deadline" in job["stages"][0]["error"]
    assert run_stage(script_id, ctx=ctx).status == "skipped"  # a redelivery runs nothing
    view = api_client.get(body["status_url"]).json()
    assert view["counts"]["expired"] == 1 and view["counts"]["queued"] == 1


def test_the_reconciler_sweeps_jobs_past_their_deadline(
    api_client: TestClient, ctx: WorkerContext
) -> None:
    body = submit(api_client, [item("a"), item("b")], deadline=in_s(600))
    pass_deadline(ctx, body["jobs"][1]["id"])
    reconcile_once(db=ctx.db, app=ctx.app, settings=ctx.settings)
    view = api_client.get(body["status_url"]).json()
    assert view["counts"]["expired"] == 1 and view["counts"]["queued"] == 1
    assert api_client.get(f"/v1/jobs/{body['jobs'][1]['id']}").json()["state"] == "expired"
