"""Batch counts are kept between status reads while the tenant's event log has not moved."""

from __future__ import annotations

from sqlalchemy import update

from producer.db import Database
from producer.queries import RecentCounts
from producer.settings import Settings
from producer.submission import create_batch
from schemas.api import BatchSpec
from schemas.pipelines import builtin_templates
from schemas.tables import Job
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
                recent.get(session=session, tenant_id="default", batch_id=batch_id)["queued"] == 3
            )

        # a change made without an event is not seen: the counts were kept, not recounted
        with db.session() as session:
            session.execute(update(Job).values(state="running"))
        with db.read_session() as session:
            kept = recent.get(session=session, tenant_id="default", batch_id=batch_id)
        assert kept["queued"] == 3 and kept["running"] == 0

        # a real transition writes an event in its transaction: the next read counts again
        with db.session() as session:
            session.execute(update(Job).values(state="queued"))
        first_stage = accepted.messages[0].stage_run_id
        assert run_stage(first_stage, ctx=ctx).status == "succeeded"
        with db.read_session() as session:
            fresh = recent.get(session=session, tenant_id="default", batch_id=batch_id)
        assert fresh["queued"] + fresh["running"] + fresh["succeeded"] == 3
        assert fresh["running"] == 1 or fresh["succeeded"] == 1, fresh
    finally:
        ctx.close()
