"""The event log: written with the state change it reports, one per batch at submission."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from producer.crud import cancel_jobs, claim_stage_run, fail_stage_run
from producer.settings import Settings
from schemas.states import ErrorClass
from schemas.tables import Event, StageRun
from workers.context import WorkerContext
from workers.runner import run_stage


def short_item(custom_id: str) -> dict[str, str]:
    return {
        "custom_id": custom_id,
        "language": "en",
        "headline": "Bridge reopens",
        "body": "The harbor bridge reopened on Tuesday, two weeks early.",
    }


@pytest.fixture
def ctx(embedded_settings: Settings) -> Iterator[WorkerContext]:
    context = WorkerContext.from_settings(embedded_settings)
    yield context
    context.close()


def submit(client: TestClient, count: int) -> dict[str, Any]:
    items = [short_item(f"item-{i}") for i in range(count)]
    response = client.post("/v1/batches", json={"template": "voiceover", "items": items})
    assert response.status_code == 202, response.text
    return response.json()


def events(ctx: WorkerContext, *, after: int = 0) -> list[Event]:
    with ctx.db.read_session() as session:
        return list(
            session.execute(select(Event).where(Event.id > after).order_by(Event.id)).scalars()
        )


def run_everything(ctx: WorkerContext) -> None:
    """Run queued stages in-process until none is left (the runner sends nothing we need)."""
    while True:
        with ctx.db.read_session() as session:
            queued = list(
                session.execute(
                    select(StageRun.id).where(StageRun.state == "queued").order_by(StageRun.id)
                ).scalars()
            )
        if not queued:
            return
        for stage_id in queued:
            run_stage(stage_id, ctx=ctx)


def test_submission_writes_one_event_for_the_whole_batch(
    api_client: TestClient, ctx: WorkerContext
) -> None:
    accepted = submit(api_client, 25)
    (created,) = events(ctx)
    assert created.type == "batch.created" and created.batch_id == accepted["id"]
    assert created.tenant_id == "default" and created.job_id is None
    assert created.data["item_count"] == 25 and created.data["counts"]["queued"] == 25
    assert created.data["state"] == "queued" and created.data["template"] == "voiceover"


def test_a_batch_run_reports_every_stage_and_completes_exactly_once(
    api_client: TestClient, ctx: WorkerContext
) -> None:
    # Given a batch of two items, When every stage runs to success
    accepted = submit(api_client, 2)
    run_everything(ctx)
    log = events(ctx)
    types = [e.type for e in log]
    # Then each job reports each stage starting and finishing, then its success
    for job in accepted["jobs"]:
        mine = [e for e in log if e.job_id == job["id"]]
        moves = [(e.data["stage"], e.data["stage_state"], e.data["state"]) for e in mine[:-1]]
        assert moves == [
            ("script", "running", "running"),
            ("script", "succeeded", "running"),
            ("tts", "running", "running"),
            ("tts", "succeeded", "succeeded"),
        ]
        assert mine[-1].type == "job.succeeded" and mine[-1].data["custom_id"] == job["custom_id"]
    # And the batch reports its counts as jobs start and finish, and completes once, last
    assert types.count("batch.completed") == 1 and types[-1] == "batch.completed"
    final = log[-1].data
    assert final["counts"]["succeeded"] == 2 and final["percent_done"] == 100.0
    assert final["state"] == "completed"
    updates = [e.data["counts"] for e in log if e.type == "batch.updated"]
    assert len(updates) == 4  # each job's start and finish
    assert updates[0]["running"] == 1 and updates[-1]["succeeded"] == 2
    assert [e.id for e in log] == sorted(e.id for e in log)


def test_a_failed_job_reports_its_error_class(api_client: TestClient, ctx: WorkerContext) -> None:
    submit(api_client, 1)
    with ctx.db.read_session() as session:
        stage_id = session.execute(select(StageRun.id).where(StageRun.name == "script")).scalar()
    with ctx.db.session() as session:
        assert claim_stage_run(session=session, stage_run_id=stage_id, owner="w", lease_s=60)
    with ctx.db.session() as session:
        fail_stage_run(
            session=session,
            stage_run_id=stage_id,
            owner="w",
            error="bad input",
            error_class=ErrorClass.PERMANENT,
            retry_in_s=None,
        )
    failed = [e for e in events(ctx) if e.type == "job.failed"]
    assert len(failed) == 1
    assert failed[0].data["error_class"] == "permanent" and failed[0].data["stage"] == "script"
    assert events(ctx)[-1].type == "batch.completed"


def test_cancel_reports_each_job_and_completes_the_batch(
    api_client: TestClient, ctx: WorkerContext
) -> None:
    accepted = submit(api_client, 3)
    before = events(ctx)[-1].id
    assert api_client.post(f"/v1/batches/{accepted['id']}/cancel").status_code == 200
    log = events(ctx, after=before)
    assert sorted(e.job_id for e in log if e.type == "job.canceled") == sorted(
        job["id"] for job in accepted["jobs"]
    )
    assert [e.type for e in log if e.job_id is None] == ["batch.updated", "batch.completed"]
    assert log[-1].data["state"] == "canceled" and log[-1].data["counts"]["canceled"] == 3
    # canceling again changes nothing, so reports nothing
    api_client.post(f"/v1/batches/{accepted['id']}/cancel")
    assert events(ctx)[-1].id == log[-1].id


def test_events_roll_back_with_the_change_they_report(
    api_client: TestClient, ctx: WorkerContext
) -> None:
    accepted = submit(api_client, 1)
    before = events(ctx)[-1].id
    with pytest.raises(RuntimeError), ctx.db.session() as session:
        assert cancel_jobs(session=session, job_ids=[accepted["jobs"][0]["id"]]) == (1, 2)
        raise RuntimeError("the transaction fails after the cancel")
    assert events(ctx, after=before) == []
    assert api_client.get(f"/v1/jobs/{accepted['jobs'][0]['id']}").json()["state"] == "queued"


def test_expiry_reports_job_expired(api_client: TestClient, ctx: WorkerContext) -> None:
    from producer.deadlines import expire_jobs

    accepted = submit(api_client, 2)
    before = events(ctx)[-1].id
    with ctx.db.session() as session:
        assert expire_jobs(session=session, job_ids=[accepted["jobs"][0]["id"]]) == 1
    log = events(ctx, after=before)
    assert [e.type for e in log] == ["job.updated", "job.expired", "batch.updated"]
    assert log[1].data["state"] == "expired" and log[2].data["counts"]["expired"] == 1
    assert log[2].data["state"] == "running" and log[2].data["percent_done"] == 50.0


@pytest.mark.postgres
def test_two_jobs_finishing_at_once_complete_the_batch_exactly_once_on_postgres(
    postgres_url: str, tmp_path: Any
) -> None:
    import threading
    from uuid import uuid4

    from sqlalchemy import delete

    from producer.main import create_app
    from producer.migrate import upgrade
    from schemas.tables import Batch, Job
    from tests.conftest import make_key

    upgrade(postgres_url)
    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_url)
    settings.data_dir.mkdir(parents=True)
    tenant = f"events-{uuid4().hex[:12]}"
    app = create_app(settings)
    db = app.state.services.db
    client = TestClient(
        app, headers={"Authorization": f"Bearer {make_key(settings, tenant=tenant)}"}
    )
    try:
        accepted = submit(client, 2)
        with db.read_session() as session:
            stage_ids = list(
                session.execute(
                    select(StageRun.id)
                    .join(Job, Job.id == StageRun.job_id)
                    .where(Job.batch_id == accepted["id"], StageRun.name == "script")
                ).scalars()
            )
        for stage_id in stage_ids:
            with db.session() as session:
                claim_stage_run(session=session, stage_run_id=stage_id, owner="w", lease_s=60)

        def fail(stage_id: str, done: threading.Event, release: threading.Event) -> None:
            with db.session() as session:
                fail_stage_run(
                    session=session,
                    stage_run_id=stage_id,
                    owner="w",
                    error="boom",
                    error_class=ErrorClass.PERMANENT,
                    retry_in_s=None,
                )
                done.set()
                release.wait(10)  # hold the transaction open: its events are not committed

        # Given the first job's failure written but not committed
        first_done, second_done, release = threading.Event(), threading.Event(), threading.Event()
        first = threading.Thread(target=fail, args=(stage_ids[0], first_done, release))
        first.start()
        assert first_done.wait(10)
        # When the second job fails meanwhile, Then it waits for the event-log lock
        second = threading.Thread(target=fail, args=(stage_ids[1], second_done, release))
        second.start()
        assert not second_done.wait(0.5), "the second writer did not wait for the first"
        release.set()
        first.join(10)
        second.join(10)
        # And the batch completed exactly once, in the later transaction, with both failures
        with db.read_session() as session:
            log = list(
                session.execute(
                    select(Event).where(Event.tenant_id == tenant).order_by(Event.id)
                ).scalars()
            )
        completed = [e for e in log if e.type == "batch.completed"]
        assert len(completed) == 1 and completed[0].data["counts"]["failed"] == 2
        assert log[-1].type == "batch.completed"
    finally:
        with db.session() as session:
            session.execute(delete(Batch).where(Batch.tenant_id == tenant))
        client.close()
        db.dispose()
