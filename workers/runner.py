"""The stage runner, the I/O shell around a stage: claim, fetch, run, store, record, advance."""

from __future__ import annotations

import logging
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from producer.crud import (
    claim_stage_run,
    complete_stage_run,
    fail_stage_run,
    find_cached_outputs,
    input_digests,
    insert_ignoring_duplicates,
)
from producer.deadlines import expire_jobs, is_overdue
from producer.dispatch import StageMessage, send_stage_runs
from producer.ids import as_utc, utcnow
from producer.jsonlog import bind_log_context
from schemas.states import ErrorClass
from schemas.tables import Artifact, ArtifactOwner, Batch, Job, Provenance, StageCache, StageRun
from workers.cache_key import compute_cache_key
from workers.cancellation import StageCanceled, cancel_scope
from workers.context import WorkerContext
from workers.engines.base import Engine, EngineError
from workers.heartbeat import Heartbeat
from workers.lease_holders import dead_local_owner
from workers.publish import Published, StageSnapshot, publish_outputs
from workers.stages.base import Stage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOutcome:
    """What happened to one delivery of a stage run (for logs, tests and benchmarks)."""

    # "succeeded", "cache_hit", "retry", "failed", "skipped", "lost_lease", "canceled", "expired"
    status: str
    stage_run_id: str
    detail: str = ""
    # after a cache hit: one next ready stage, not sent, for this worker to run at once (an
    # unchanged job then costs no broker hop per stage; the stage is `queued` in the database,
    # so the reconciler re-sends it should the worker die first). Other ready stages are sent.
    follow_on: StageMessage | None = None


def run_stage(stage_run_id: str, *, ctx: WorkerContext) -> RunOutcome:
    """Run one stage run to a committed result, or record why not.

    A delivery for a stage that someone else holds, or that is already done, is a no-op.
    """
    with ctx.db.session() as session:
        stage = claim_stage_run(
            session=session,
            stage_run_id=stage_run_id,
            owner=ctx.owner,
            lease_s=ctx.settings.lease_s,
        )
        dead = None if stage else dead_local_owner(session=session, stage_run_id=stage_run_id)
        if dead is not None:
            # its holder was killed on this host (the OOM killer, say): take it over now
            # rather than after the lease runs out
            log.warning("stage run %s: holder %s is dead, taking it over", stage_run_id, dead)
            stage = claim_stage_run(
                session=session,
                stage_run_id=stage_run_id,
                owner=ctx.owner,
                lease_s=ctx.settings.lease_s,
                dead_owner=dead,
            )
        if stage is not None and is_overdue(session=session, job_id=stage.job_id):
            # past the deadline: never start the work; the job ends expired
            expire_jobs(session=session, job_ids=[stage.job_id])
            return RunOutcome("expired", stage_run_id, "not run: the job's deadline passed")
        snapshot = _snapshot(session=session, stage=stage) if stage else None
    if snapshot is None:
        return RunOutcome("skipped", stage_run_id, "not claimable (done, canceled or held)")
    bind_log_context(batch_id=snapshot.batch_id, job_id=snapshot.job_id, stage=snapshot.name)
    if snapshot.attempts > snapshot.max_attempts:
        return _fail(ctx, snapshot, f"gave up after {snapshot.max_attempts} attempts", False)
    try:
        stage_impl, engine = ctx.engines.get(kind=snapshot.kind, engine=snapshot.engine)
        return _run_claimed(ctx, snapshot, stage_impl, engine)
    except EngineError as error:
        return _fail(ctx, snapshot, f"{type(error).__name__}: {error}", not error.is_permanent)
    except Exception as error:  # unknown failures may heal (disk, network): retry with backoff
        log.exception("stage %s (%s) failed", snapshot.name, stage_run_id)
        return _fail(ctx, snapshot, f"{type(error).__name__}: {error}", True)


def _snapshot(*, session: Any, stage: StageRun) -> StageSnapshot:
    job = session.get(Job, stage.job_id)
    batch = session.get(Batch, job.batch_id)
    return StageSnapshot(
        id=stage.id,
        name=stage.name,
        kind=stage.kind,
        engine=stage.engine,
        params=dict(stage.params),
        attempts=stage.attempts,
        max_attempts=stage.max_attempts,
        input_digests=input_digests(session=session, stage=stage),
        is_list_port={port: spec["is_list"] for port, spec in stage.inputs.items()},
        item=dict(job.item),
        job_id=job.id,
        batch_id=batch.id,
        tenant_id=job.tenant_id,
        custom_id=job.custom_id,
        started_at=as_utc(stage.started_at) or utcnow(),
    )


def _run_claimed(
    ctx: WorkerContext, snap: StageSnapshot, stage: Stage, engine: Engine
) -> RunOutcome:
    cache_key = compute_cache_key(
        kind=snap.kind,
        engine=snap.engine,
        engine_version=engine.version,
        model_digest=engine.model_digest,
        params=snap.params,
        input_digests=snap.input_digests,
        item=snap.item if getattr(stage, "reads_item", True) else None,
        tenant_id=snap.tenant_id,
    )
    # a read: on SQLite a writing session would take the database's write lock for it
    with ctx.db.read_session() as session:
        cached = find_cached_outputs(session=session, cache_key=cache_key)
    if cached is not None and all(ctx.store.exists(d) for d in cached.values()):
        return _commit(ctx, snap, Published(cached, [], []), cache_key, engine, is_cache_hit=True)
    with tempfile.TemporaryDirectory(prefix="mediaq-") as tmp:
        workdir = Path(tmp)
        inputs = _fetch_inputs(ctx, snap, workdir / "in")
        (workdir / "out").mkdir()
        with (
            Heartbeat(
                db=ctx.db,
                stage_run_id=snap.id,
                owner=ctx.owner,
                lease_s=ctx.settings.lease_s,
                check_every_s=ctx.settings.cancel_check_s,
            ) as beat,
            cancel_scope(beat.is_lost),
        ):
            params = dict(snap.params)
            if not stage.uses_element:
                params.pop("element", None)
            try:
                produced = stage.run(
                    item=snap.item,
                    inputs=inputs,
                    params=params,
                    engine=engine,
                    workdir=workdir / "out",
                )
            except StageCanceled:
                return RunOutcome("canceled", snap.id, "stopped: canceled, expired or taken over")
        if beat.is_lost.is_set():
            return RunOutcome("lost_lease", snap.id, "lease lost or stage canceled while running")
        published = publish_outputs(
            ctx=ctx, snap=snap, produced=produced, engine=engine, cache_key=cache_key
        )
    return _commit(ctx, snap, published, cache_key, engine, is_cache_hit=False)


def _fetch_inputs(ctx: WorkerContext, snap: StageSnapshot, folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True)
    inputs: dict[str, Any] = {}
    for port, digests in snap.input_digests.items():
        paths = []
        for index, digest in enumerate(digests):
            path = folder / f"{port}-{index}"
            ctx.store.get_to_path(digest=digest, path=path)
            paths.append(path)
        inputs[port] = paths if snap.is_list_port[port] else paths[0]
    return inputs


def _commit(
    ctx: WorkerContext,
    snap: StageSnapshot,
    published: Published,
    cache_key: str,
    engine: Engine,
    *,
    is_cache_hit: bool,
) -> RunOutcome:
    """Artifacts, provenance, cache entry and the stage's success: one transaction."""
    with ctx.db.session() as session:
        record_outputs(session=session, published=published, cache_key=cache_key, snap=snap)
        messages = complete_stage_run(
            session=session,
            stage_run_id=snap.id,
            owner=ctx.owner,
            outputs=published.outputs,
            cache_key=cache_key,
            is_cache_hit=is_cache_hit,
            engine_version=engine.version,
        )
        if messages is None:
            session.rollback()
            return RunOutcome("lost_lease", snap.id, "lease lost or stage canceled before commit")
    # only after a cache hit: a chain of fresh stages in one delivery kept its message unacked
    # for the whole chain, and a worker caught by a Redis restart then stopped consuming
    # (tests/fault/test_redis_restart.py failed intermittently with it)
    follow_on = next((m for m in messages if not m.countdown_s), None) if is_cache_hit else None
    _send(ctx, [m for m in messages if m is not follow_on])
    return RunOutcome("cache_hit" if is_cache_hit else "succeeded", snap.id, follow_on=follow_on)


def record_outputs(
    *, session: Any, published: Published, cache_key: str, snap: StageSnapshot
) -> None:
    """Insert artifact, ownership, provenance and cache rows; the first writer of each wins."""
    owners = [
        {"tenant_id": snap.tenant_id, "digest": digest, "created_at": utcnow()}
        for digest in published.outputs.values()
    ]
    insert_ignoring_duplicates(session=session, table=ArtifactOwner.__table__, rows=owners)
    if not published.artifact_rows:
        return
    insert_ignoring_duplicates(
        session=session, table=Artifact.__table__, rows=published.artifact_rows
    )
    insert_ignoring_duplicates(
        session=session, table=Provenance.__table__, rows=published.provenance_rows
    )
    cache_row = {
        "cache_key": cache_key,
        "outputs": published.outputs,
        "stage_run_id": snap.id,
        "created_at": utcnow(),
        "hits": 0,
    }
    insert_ignoring_duplicates(session=session, table=StageCache.__table__, rows=[cache_row])


def _fail(ctx: WorkerContext, snap: StageSnapshot, error: str, is_transient: bool) -> RunOutcome:
    can_retry = is_transient and snap.attempts < snap.max_attempts
    retry_in_s = _backoff_s(ctx.settings.retry_base_s, snap.attempts) if can_retry else None
    error_class = ErrorClass.TRANSIENT if is_transient else ErrorClass.PERMANENT
    with ctx.db.session() as session:
        messages = fail_stage_run(
            session=session,
            stage_run_id=snap.id,
            owner=ctx.owner,
            error=error,
            error_class=error_class,
            retry_in_s=retry_in_s,
        )
    if messages is None:
        return RunOutcome("lost_lease", snap.id, error)
    _send(ctx, messages)
    return RunOutcome("retry" if can_retry else "failed", snap.id, error)


def _backoff_s(base_s: float, attempt: int) -> float:
    """Exponential backoff with full jitter, capped at five minutes."""
    return random.uniform(0, min(300.0, base_s * 2 ** (attempt - 1)))


def _send(ctx: WorkerContext, messages: list[StageMessage]) -> None:
    if messages:
        send_stage_runs(app=ctx.app, settings=ctx.settings, messages=messages)
