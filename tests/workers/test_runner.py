"""The stage runner called directly: claims, cache hits, failures, retries, leases, cancellation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select, update

from producer.crud import claim_stage_run
from producer.ids import utcnow
from producer.reconciler import reconcile_once
from producer.settings import Settings
from producer.submission import create_batch
from schemas.api import BatchSpec
from schemas.pipelines import builtin_templates
from schemas.tables import Artifact, Job, Provenance, StageRun
from workers.context import WorkerContext
from workers.engines.base import Engine, EngineError, PermanentEngineError
from workers.registry import EnginePool
from workers.runner import run_stage
from workers.stages.base import Stage, StageOutput

ITEM = {
    "custom_id": "a1",
    "language": "en",
    "headline": "Harbor bridge reopens",
    "body": "The bridge reopened on Tuesday. Crews replaced 1,240 meters of decking. "
    "It cost 4% less.",
}


@pytest.fixture
def ctx(embedded_settings: Settings) -> WorkerContext:
    context = WorkerContext.from_settings(
        embedded_settings.model_copy(update={"retry_base_s": 0.0})
    )
    yield context
    context.close()


def submit(ctx: WorkerContext, items: list[dict[str, Any]] | None = None) -> list[str]:
    """Create a voiceover batch; return its stage-run ids in creation order."""
    spec = BatchSpec(template="voiceover", items=items or [ITEM])
    with ctx.db.session() as session:
        create_batch(
            session=session,
            tenant_id="default",
            spec=spec,
            template=builtin_templates()["voiceover"],
            idempotency=None,
        )
    with ctx.db.read_session() as session:
        return list(session.execute(select(StageRun.id).order_by(StageRun.name)).scalars())


def stage(ctx: WorkerContext, stage_id: str) -> StageRun:
    with ctx.db.read_session() as session:
        return session.get(StageRun, stage_id)


def job_state(ctx: WorkerContext) -> str:
    with ctx.db.read_session() as session:
        return session.execute(select(Job.state)).scalar_one()


def test_script_then_tts_run_to_success_with_artifacts_and_provenance(ctx: WorkerContext) -> None:
    script_id, tts_id = submit(ctx)
    assert stage(ctx, tts_id).state == "pending"
    assert run_stage(script_id, ctx=ctx).status == "succeeded"
    assert stage(ctx, tts_id).state == "queued"  # unblocked by the script
    assert job_state(ctx) == "running"
    assert run_stage(tts_id, ctx=ctx).status == "succeeded"
    assert job_state(ctx) == "succeeded"
    tts = stage(ctx, tts_id)
    assert set(tts.outputs) == {"audio", "timings"} and tts.attempts == 1 and not tts.is_cache_hit
    with ctx.db.read_session() as session:
        assert session.execute(select(Artifact)).scalars().all().__len__() == 3
        record = session.get(Provenance, (tts.outputs["audio"], "default")).record
    assert record["input_digests"] == {"script": [stage(ctx, script_id).outputs["script"]]}
    assert record["engine"]["name"] == "espeak" and record["engine"]["library_versions"]
    sidecar = ctx.store.get_sidecar(digest=tts.outputs["audio"], name="provenance")
    assert json.loads(sidecar)["record_digest"] == record["record_digest"]


def test_a_second_delivery_of_a_finished_stage_is_a_no_op(ctx: WorkerContext) -> None:
    script_id, _ = submit(ctx)
    run_stage(script_id, ctx=ctx)
    assert run_stage(script_id, ctx=ctx).status == "skipped"
    assert stage(ctx, script_id).attempts == 1


def test_the_same_item_again_is_a_cache_hit_that_stores_nothing(ctx: WorkerContext) -> None:
    for stage_id in submit(ctx):
        run_stage(stage_id, ctx=ctx)
    objects = ctx.store.count_objects()
    again = submit(ctx, [{**ITEM, "custom_id": "a2"}])
    new_ids = [sid for sid in again if stage(ctx, sid).state != "succeeded"]
    outcomes = [run_stage(sid, ctx=ctx).status for sid in new_ids]
    assert outcomes == ["cache_hit", "cache_hit"]
    assert ctx.store.count_objects() == objects


def test_a_cache_hit_hands_the_next_stage_to_this_worker_instead_of_the_broker(
    ctx: WorkerContext,
) -> None:
    for stage_id in submit(ctx):
        run_stage(stage_id, ctx=ctx)
    script_id, tts_id = [
        sid
        for sid in submit(ctx, [{**ITEM, "custom_id": "a3"}])
        if stage(ctx, sid).state != "succeeded"
    ]
    messages = ctx.settings.broker_folder / "messages"
    sent_before = len(list(messages.iterdir()))

    # When the script stage is a cache hit
    outcome = run_stage(script_id, ctx=ctx)

    # Then the tts stage comes back to run at once, unsent, and stays `queued` for the reconciler
    assert outcome.status == "cache_hit"
    assert outcome.follow_on is not None and outcome.follow_on.stage_run_id == tts_id
    assert len(list(messages.iterdir())) == sent_before
    assert stage(ctx, tts_id).state == "queued"
    last = run_stage(tts_id, ctx=ctx)
    assert last.status == "cache_hit" and last.follow_on is None  # the job is done
    with ctx.db.read_session() as session:
        states = set(session.execute(select(Job.state)).scalars())
    assert states == {"succeeded"}


def test_a_fresh_result_sends_the_next_stage_through_the_broker(ctx: WorkerContext) -> None:
    script_id, _ = submit(ctx)
    messages = ctx.settings.broker_folder / "messages"
    sent_before = len(list(messages.iterdir()))
    outcome = run_stage(script_id, ctx=ctx)
    assert outcome.status == "succeeded" and outcome.follow_on is None
    assert len(list(messages.iterdir())) == sent_before + 1  # tts, for any worker


class FailingEngine(Engine):
    name: ClassVar[str] = "failing"
    version: ClassVar[str] = "1"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def load(self) -> None:
        pass


class FailingStage(Stage):
    kind: ClassVar[str] = "script"
    engines: ClassVar[Mapping[str, type[Engine]]] = {}
    outputs: ClassVar[tuple[str, ...]] = ("script",)

    def run(
        self, *, item: Any, inputs: Any, params: Any, engine: Engine, workdir: Path
    ) -> list[StageOutput]:
        assert isinstance(engine, FailingEngine)
        raise engine.error


class FailingPool(EnginePool):
    """Every stage fails with the given error: fault injection for the runner's error paths."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def get(self, *, kind: str, engine: str) -> tuple[Stage, Engine]:
        return FailingStage(), FailingEngine(self.error)


def test_permanent_error_fails_at_once_and_cancels_downstream(ctx: WorkerContext) -> None:
    script_id, tts_id = submit(ctx)
    ctx.engines = FailingPool(PermanentEngineError("no voice for language 'xx'"))
    outcome = run_stage(script_id, ctx=ctx)
    assert outcome.status == "failed"
    failed = stage(ctx, script_id)
    assert failed.state == "failed" and failed.error_class == "permanent" and failed.attempts == 1
    assert "no voice for language 'xx'" in failed.error
    downstream = stage(ctx, tts_id)
    assert downstream.state == "canceled" and downstream.error_class == "upstream"
    assert job_state(ctx) == "failed"


def test_transient_error_is_retried_until_attempts_run_out(ctx: WorkerContext) -> None:
    script_id, _ = submit(ctx)
    ctx.engines = FailingPool(EngineError("storage answered 503"))
    assert run_stage(script_id, ctx=ctx).status == "retry"
    retried = stage(ctx, script_id)
    assert (
        retried.state == "queued" and retried.error_class == "transient" and retried.attempts == 1
    )
    assert run_stage(script_id, ctx=ctx).status == "retry"
    assert run_stage(script_id, ctx=ctx).status == "failed"  # max_attempts = 3
    assert stage(ctx, script_id).state == "failed" and stage(ctx, script_id).attempts == 3
    assert job_state(ctx) == "failed"


def test_a_run_that_lost_its_lease_commits_nothing(ctx: WorkerContext) -> None:
    script_id, tts_id = submit(ctx)

    class StealingPool(EnginePool):
        def get(self, *, kind: str, engine: str) -> tuple[Stage, Engine]:
            # another worker takes the stage over (as after an expired lease) mid-run
            with ctx.db.session() as session:
                session.execute(
                    update(StageRun)
                    .where(StageRun.id == script_id)
                    .values(lease_expires_at=utcnow() - timedelta(seconds=1))
                )
                assert claim_stage_run(
                    session=session, stage_run_id=script_id, owner="other", lease_s=60
                )
            return super().get(kind=kind, engine=engine)

    ctx.engines = StealingPool()
    assert run_stage(script_id, ctx=ctx).status == "lost_lease"
    taken = stage(ctx, script_id)
    assert taken.state == "running" and taken.lease_owner == "other" and taken.outputs == {}
    assert stage(ctx, tts_id).state == "pending"
    with ctx.db.read_session() as session:
        assert session.execute(select(Artifact)).first() is None


def test_a_stage_canceled_while_running_publishes_nothing(ctx: WorkerContext) -> None:
    script_id, _ = submit(ctx)

    class CancelingPool(EnginePool):
        def get(self, *, kind: str, engine: str) -> tuple[Stage, Engine]:
            from producer.crud import cancel_jobs

            with ctx.db.session() as session:
                job_id = session.get(StageRun, script_id).job_id
                cancel_jobs(session=session, job_ids=[job_id])
            return super().get(kind=kind, engine=engine)

    ctx.engines = CancelingPool()
    assert run_stage(script_id, ctx=ctx).status == "lost_lease"
    assert stage(ctx, script_id).state == "canceled" and stage(ctx, script_id).outputs == {}
    assert job_state(ctx) == "canceled"


def test_reconciler_resends_stages_stuck_in_queued(ctx: WorkerContext) -> None:
    script_id, _ = submit(ctx)
    assert reconcile_once(db=ctx.db, app=ctx.app, settings=ctx.settings) == 0
    with ctx.db.session() as session:
        session.execute(
            update(StageRun)
            .where(StageRun.id == script_id)
            .values(queued_at=utcnow() - timedelta(seconds=ctx.settings.requeue_after_s + 1))
        )
    assert reconcile_once(db=ctx.db, app=ctx.app, settings=ctx.settings) == 1
    assert reconcile_once(db=ctx.db, app=ctx.app, settings=ctx.settings) == 0  # queued_at refreshed


def test_a_crashed_run_is_taken_over_after_its_lease_expires(ctx: WorkerContext) -> None:
    script_id, _ = submit(ctx)
    with ctx.db.session() as session:
        assert claim_stage_run(session=session, stage_run_id=script_id, owner="dead", lease_s=60)
    assert run_stage(script_id, ctx=ctx).status == "skipped"  # lease still alive
    with ctx.db.session() as session:
        session.execute(
            update(StageRun)
            .where(StageRun.id == script_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    assert reconcile_once(db=ctx.db, app=ctx.app, settings=ctx.settings) == 1
    assert run_stage(script_id, ctx=ctx).status == "succeeded"
    assert stage(ctx, script_id).attempts == 2
