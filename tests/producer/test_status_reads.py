"""Batch counts are kept between status reads while the tenant's event log has not moved."""

from __future__ import annotations

from sqlalchemy import select, update

from producer.db import Database
from producer.queries import RecentCounts
from producer.settings import Settings
from producer.submission import create_batch
from schemas.api import BatchSpec
from schemas.pipelines import builtin_templates
from schemas.tables import Job, StageRun
from workers.context import WorkerContext
from workers.runner import run_stage

ITEMS = [
    {"custom_id": f"s{n}", "language": "en", "headline": "Bridge", "body": "It reopened."}
    for n in range(3)
]


def test_counts_are_reused_until_an_event_says_a_job_changed(
    embedded_settings: Settings,
) -> None:
    ctx = WorkerContext.from_settings(embedded_settings)
    db: Database = ctx.db
    try:
        with db.session() as session:
            accepted = create_batch(
                session=session,
                tenant_id="default",
                spec=BatchSpec(template="voiceover", items=ITEMS),
                template=builtin_templates()["voiceover"],
                idempotency=None,
            )
        batch_id = accepted.response.id
        recent = RecentCounts()
        with db.read_session() as session:
            assert (
                recent.get_counts(session=session, tenant_id="default", batch_id=batch_id)["queued"]
                == 3
            )

        # a change made without an event is not seen: the counts were kept, not recounted
        with db.session() as session:
            session.execute(update(Job).values(state="running"))
        with db.read_session() as session:
            kept = recent.get_counts(session=session, tenant_id="default", batch_id=batch_id)
        assert kept["queued"] == 3 and kept["running"] == 0

        # a real transition writes an event in its transaction: the next read counts again
        with db.session() as session:
            session.execute(update(Job).values(state="queued"))
        first_stage = accepted.messages[0].stage_run_id
        assert run_stage(first_stage, ctx=ctx).status == "succeeded"
        with db.read_session() as session:
            fresh = recent.get_counts(session=session, tenant_id="default", batch_id=batch_id)
        assert fresh["queued"] + fresh["running"] + fresh["succeeded"] == 3
        assert fresh["running"] == 1 or fresh["succeeded"] == 1, fresh
    finally:
        ctx.close()


def test_a_batch_page_is_answered_again_until_an_event_changes_it(
    embedded_settings: Settings,
) -> None:
    from fastapi.testclient import TestClient

    from producer.main import create_app
    from tests.conftest import make_key

    app = create_app(embedded_settings)
    client = TestClient(app, headers={"Authorization": f"Bearer {make_key(embedded_settings)}"})
    other = TestClient(
        app,
        headers={"Authorization": f"Bearer {make_key(embedded_settings, tenant='other')}"},
    )
    ctx = WorkerContext.from_settings(embedded_settings)
    try:
        accepted = client.post("/v1/batches", json={"template": "voiceover", "items": ITEMS})
        batch_id = accepted.json()["id"]
        first = client.get(f"/v1/batches/{batch_id}")
        assert first.json()["counts"]["queued"] == 3
        # a change without an event (never made by mediaq itself) shows the kept page
        with ctx.db.session() as session:
            session.execute(update(Job).values(custom_id="renamed"))
        assert client.get(f"/v1/batches/{batch_id}").content == first.content
        # another query is another page; another tenant gets a 404, not the page
        one_job = client.get(f"/v1/batches/{batch_id}", params={"jobs_limit": 1}).json()
        assert one_job["jobs"][0]["custom_id"] == "renamed"
        assert other.get(f"/v1/batches/{batch_id}").status_code == 404
        # a stage that runs writes events: the next read is computed again
        job_id = accepted.json()["jobs"][0]["id"]
        with ctx.db.read_session() as session:
            stage_id = session.execute(
                select(StageRun.id).where(StageRun.job_id == job_id, StageRun.name == "script")
            ).scalar_one()
        assert run_stage(stage_id, ctx=ctx).status == "succeeded"
        fresh = client.get(f"/v1/batches/{batch_id}").json()
        assert fresh["jobs"][0]["custom_id"] == "renamed"
        assert fresh["jobs"][0]["stage"] == "tts"
    finally:
        ctx.close()
        app.state.services.db.dispose()
