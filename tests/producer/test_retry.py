"""Retrying jobs and batches: what runs again, what is kept, who may, and what answers 409."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from producer.crud import claim_stage_run, fail_stage_run
from producer.deadlines import expire_jobs
from producer.ids import utcnow
from producer.main import create_app
from producer.settings import Settings
from schemas.states import ErrorClass
from schemas.tables import Event, Job, StageRun
from tests.conftest import make_key
from workers.context import WorkerContext
from workers.runner import run_stage

NEWS = Path(__file__).resolve().parents[2] / "examples" / "news" / "batch.jsonl"
ITEMS = [json.loads(line) for line in NEWS.read_text(encoding="utf-8").splitlines() if line][:3]


@pytest.fixture
def ctx(embedded_settings: Settings) -> Iterator[WorkerContext]:
    context = WorkerContext.from_settings(embedded_settings)
    yield context
    context.close()


@pytest.fixture
def clients(embedded_settings: Settings) -> Iterator[dict[str, TestClient]]:
    app = create_app(embedded_settings)
    keys = {
        "owner": make_key(embedded_settings, tenant="newsroom"),
        "other": make_key(embedded_settings, tenant="shop"),
        "reader": make_key(embedded_settings, tenant="newsroom", scopes=("read",)),
    }
    with TestClient(app) as client:
        yield {
            name: TestClient(app, headers={"Authorization": f"Bearer {key}"})
            for name, key in keys.items()
        } | {"app": client}


def submit(client: TestClient, items: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.post("/v1/batches", json={"template": "voiceover", "items": items})
    assert response.status_code == 202, response.text
    return response.json()


def stages_of(ctx: WorkerContext, job_id: str) -> dict[str, StageRun]:
    with ctx.db.read_session() as session:
        rows = session.execute(select(StageRun).where(StageRun.job_id == job_id)).scalars()
        return {row.name: row for row in rows}


def last_events(ctx: WorkerContext, job_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The type and a few fields of the newest two events of the job's batch."""
    with ctx.db.read_session() as session:
        batch_id = session.get(Job, job_id).batch_id
        rows = session.execute(
            select(Event.type, Event.data)
            .where(Event.batch_id == batch_id)
            .order_by(Event.id.desc())
            .limit(2)
        ).all()
    fields = ("state", "percent_done")
    return [(type_, {k: data[k] for k in fields if k in data}) for type_, data in reversed(rows)]


def run_job(ctx: WorkerContext, job_id: str) -> None:
    """Run the job's stages in order, as a worker would."""
    for name in ("script", "tts"):
        run_stage(stages_of(ctx, job_id)[name].id, ctx=ctx)


def fail_for_good(ctx: WorkerContext, job_id: str, name: str) -> None:
    """The worker's path for a permanent failure: claim the stage, then fail it."""
    stage_id = stages_of(ctx, job_id)[name].id
    with ctx.db.session() as session:
        assert claim_stage_run(session=session, stage_run_id=stage_id, owner="w", lease_s=60)
        fail_stage_run(
            session=session,
            stage_run_id=stage_id,
            owner="w",
            error="EngineError: boom",
            error_class=ErrorClass.PERMANENT,
            retry_in_s=None,
        )


def test_a_failed_job_runs_its_failed_and_canceled_stages_again_keeping_attempts(
    clients: dict[str, TestClient], ctx: WorkerContext
) -> None:
    # Given a job whose script stage failed for good (so tts was canceled as its downstream)
    owner = clients["owner"]
    job_id = submit(owner, ITEMS[:1])["jobs"][0]["id"]
    fail_for_good(ctx, job_id, "script")
    job = owner.get(f"/v1/jobs/{job_id}").json()
    assert job["state"] == "failed"
    assert [s["state"] for s in job["stages"]] == ["failed", "canceled"]
    # When it is retried
    response = owner.post(f"/v1/jobs/{job_id}/retry")
    # Then both stages are back, the script queued with its attempt kept and a fresh budget
    assert response.status_code == 200, response.text
    assert response.json() == {"id": job_id, "retried_jobs": 1, "retried_stages": 2}
    job = owner.get(f"/v1/jobs/{job_id}").json()
    assert job["state"] == "queued" and job["finished_at"] is None
    script, tts = job["stages"]
    assert (script["state"], script["attempts"], script["max_attempts"]) == ("queued", 1, 4)
    assert script["error"] is None and script["error_class"] is None
    assert (tts["state"], tts["attempts"]) == ("pending", 0)
    # and live readers hear of it: the job and its batch moved
    assert last_events(ctx, job_id) == [
        ("job.updated", {"state": "queued"}),
        ("batch.updated", {"state": "queued", "percent_done": 0.0}),
    ]
    # and a worker now takes it through to success
    run_job(ctx, job_id)
    job = owner.get(f"/v1/jobs/{job_id}").json()
    assert job["state"] == "succeeded", job
    assert job["stages"][0]["attempts"] == 2


def test_a_canceled_job_keeps_its_finished_stages_and_queues_the_next(
    clients: dict[str, TestClient], ctx: WorkerContext
) -> None:
    owner = clients["owner"]
    job_id = submit(owner, ITEMS[:1])["jobs"][0]["id"]
    run_stage(stages_of(ctx, job_id)["script"].id, ctx=ctx)
    assert owner.post(f"/v1/jobs/{job_id}/cancel").json()["canceled_stages"] == 1
    response = owner.post(f"/v1/jobs/{job_id}/retry")
    assert response.json()["retried_stages"] == 1
    job = owner.get(f"/v1/jobs/{job_id}").json()
    # the script's output is kept: the job is under way, tts is queued at once
    assert job["state"] == "running"
    assert [(s["name"], s["state"]) for s in job["stages"]] == [
        ("script", "succeeded"),
        ("tts", "queued"),
    ]
    run_job(ctx, job_id)
    assert owner.get(f"/v1/jobs/{job_id}").json()["state"] == "succeeded"


def test_only_finished_jobs_that_did_not_succeed_can_be_retried(
    clients: dict[str, TestClient], ctx: WorkerContext
) -> None:
    owner = clients["owner"]
    queued, done = (job["id"] for job in submit(owner, ITEMS[:2])["jobs"])
    run_job(ctx, done)
    for job_id, state in ((queued, "queued"), (done, "succeeded")):
        response = owner.post(f"/v1/jobs/{job_id}/retry")
        assert response.status_code == 409, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"] == "/problems/not-retryable"
        assert state in response.json()["detail"]
    assert owner.get(f"/v1/jobs/{done}").json()["state"] == "succeeded"


def test_batch_retry_runs_every_failed_and_canceled_job_and_resumes_the_batch(
    clients: dict[str, TestClient], ctx: WorkerContext
) -> None:
    # Given a batch with one succeeded, one failed and, after a batch cancel, one canceled job
    owner = clients["owner"]
    accepted = submit(owner, ITEMS)
    done, failed, canceled = (job["id"] for job in accepted["jobs"])
    run_job(ctx, done)
    fail_for_good(ctx, failed, "script")
    owner.post(f"/v1/batches/{accepted['id']}/cancel")
    assert owner.get(f"/v1/batches/{accepted['id']}").json()["canceled_at"] is not None
    # When the batch is retried
    response = owner.post(f"/v1/batches/{accepted['id']}/retry")
    # Then the failed and the canceled job run again, the succeeded one is untouched
    assert response.status_code == 200, response.text
    assert response.json() == {"id": accepted["id"], "retried_jobs": 2, "retried_stages": 4}
    view = owner.get(f"/v1/batches/{accepted['id']}").json()
    assert view["canceled_at"] is None
    assert view["counts"]["queued"] == 2 and view["counts"]["succeeded"] == 1
    for job_id in (failed, canceled):
        run_job(ctx, job_id)
    view = owner.get(f"/v1/batches/{accepted['id']}").json()
    assert view["counts"]["succeeded"] == 3 and view["completed_at"] is not None
    # and retrying a batch with nothing to retry changes nothing
    again = owner.post(f"/v1/batches/{accepted['id']}/retry").json()
    assert (again["retried_jobs"], again["retried_stages"]) == (0, 0)


def test_retry_is_tenant_scoped_and_needs_the_submit_scope(
    clients: dict[str, TestClient], ctx: WorkerContext
) -> None:
    owner = clients["owner"]
    accepted = submit(owner, ITEMS[:1])
    job_id = accepted["jobs"][0]["id"]
    owner.post(f"/v1/jobs/{job_id}/cancel")
    for path in (f"/v1/jobs/{job_id}/retry", f"/v1/batches/{accepted['id']}/retry"):
        response = clients["other"].post(path)
        assert response.status_code == 404, response.text
        assert response.json()["type"] == "/problems/not-found"
        assert clients["reader"].post(path).status_code == 403
        assert clients["app"].post(path).status_code == 401
    assert owner.get(f"/v1/jobs/{job_id}").json()["state"] == "canceled"
    for path in ("/v1/jobs/nope/retry", "/v1/batches/nope/retry"):
        assert owner.post(path).status_code == 404


def test_an_expired_job_is_retried_without_its_passed_deadline(
    clients: dict[str, TestClient], ctx: WorkerContext
) -> None:
    owner = clients["owner"]
    job_id = submit(owner, ITEMS[:1])["jobs"][0]["id"]
    with ctx.db.session() as session:
        session.execute(update(Job).where(Job.id == job_id).values(deadline=utcnow()))
        assert expire_jobs(session=session, job_ids=[job_id]) == 1
    assert owner.get(f"/v1/jobs/{job_id}").json()["state"] == "expired"
    assert owner.post(f"/v1/jobs/{job_id}/retry").json()["retried_stages"] == 2
    job = owner.get(f"/v1/jobs/{job_id}").json()
    # the deadline had passed: kept, the reconciler would expire the job again at once
    assert job["state"] == "queued" and job["deadline"] is None
    run_job(ctx, job_id)
    assert owner.get(f"/v1/jobs/{job_id}").json()["state"] == "succeeded"
