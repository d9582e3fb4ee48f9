"""Stage-run transitions with leases, and cancellation. Keyword-only, one transaction each.

A worker claims a stage run with a conditional update (compare-and-set on state and lease) and
commits a result only while it still holds the lease, so a duplicate delivery is a no-op and a
crashed run is taken over once its lease has expired.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, NamedTuple

from sqlalchemy import JSON, Table, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from producer.db import json_text
from producer.dispatch import StageMessage
from producer.events import JobChange, record_job_changes, record_jobs_moved
from producer.ids import utcnow
from producer.lifecycle import downstream_names, job_state, ready_stage_names
from schemas.states import (
    TERMINAL_JOB_STATES,
    ErrorClass,
    JobState,
    StageState,
)
from schemas.tables import Batch, Job, StageCache, StageRun

ACTIVE_STAGE_STATES = (StageState.PENDING, StageState.QUEUED, StageState.RUNNING)


def claim_stage_run(
    *,
    session: Session,
    stage_run_id: str,
    owner: str,
    lease_s: float,
    dead_owner: str | None = None,
) -> StageRun | None:
    """Take the stage run if it is queued or its lease has expired; None when someone has it.

    Args:
        dead_owner: a lease holder known to be dead (a killed process on this host): its lease
            is taken over at once instead of after it expires. Compare-and-set on the owner, so
            a lease renewed by anyone else in between is left alone.
    """
    now = utcnow()
    takeable = [
        StageRun.state == StageState.QUEUED,
        (StageRun.state == StageState.RUNNING) & (StageRun.lease_expires_at < now),
    ]
    if dead_owner is not None:
        takeable.append(
            (StageRun.state == StageState.RUNNING) & (StageRun.lease_owner == dead_owner)
        )
    claimed = session.execute(
        update(StageRun)
        .where(StageRun.id == stage_run_id, or_(*takeable))
        .values(
            state=StageState.RUNNING,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_s),
            attempts=StageRun.attempts + 1,
            started_at=now,
        )
    ).rowcount
    if not claimed:
        return None
    stage = session.get(StageRun, stage_run_id)
    is_started = session.execute(
        update(Job)
        .where(Job.id == stage.job_id, Job.state == JobState.QUEUED)
        .values(state=JobState.RUNNING, started_at=now)
    ).rowcount
    _record_stage_change(
        session=session,
        job_id=stage.job_id,
        stage_kind=stage.kind,
        stage_state=StageState.RUNNING,
        previous_state=JobState.QUEUED if is_started else None,
    )
    return stage


def extend_lease(*, session: Session, stage_run_id: str, owner: str, lease_s: float) -> bool:
    """Heartbeat: push the lease forward; False when the lease was lost or the stage canceled."""
    return bool(
        session.execute(
            update(StageRun)
            .where(
                StageRun.id == stage_run_id,
                StageRun.lease_owner == owner,
                StageRun.state == StageState.RUNNING,
            )
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s))
        ).rowcount
    )


def input_digests(*, session: Session, stage: StageRun) -> dict[str, list[str]]:
    """Input port -> digests of the upstream outputs wired into it, in wiring order."""
    names = {src for spec in stage.inputs.values() for src in spec["from"]}
    outputs = dict(
        session.execute(
            select(StageRun.name, StageRun.outputs).where(
                StageRun.job_id == stage.job_id, StageRun.name.in_(names)
            )
        ).all()
    )
    return {
        port: list(spec.get("digests") or [outputs[src][spec["port"]] for src in spec["from"]])
        for port, spec in stage.inputs.items()
    }


def find_cached_outputs(*, session: Session, cache_key: str) -> dict[str, str] | None:
    return session.execute(
        select(StageCache.outputs).where(StageCache.cache_key == cache_key)
    ).scalar_one_or_none()


def insert_ignoring_duplicates(
    *, session: Session, table: Table, rows: list[dict[str, Any]]
) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL alike."""
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


def bulk_insert(*, session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows that all have the same keys, in the session's transaction.

    PostgreSQL gets one COPY: psycopg's executemany sends one INSERT per row (pipelined), which
    was most of the time to accept a 10,000-item batch. SQLite's executemany is a C loop.
    """
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    from psycopg import sql as pg_sql  # PostgreSQL's driver: only here

    columns = list(rows[0])
    # the engine's JSON serializer, as an INSERT would use it (None becomes JSON null there too)
    is_json = [isinstance(table.c[name].type, JSON) for name in columns]
    statement = pg_sql.SQL("COPY {} ({}) FROM STDIN").format(
        pg_sql.Identifier(table.name), pg_sql.SQL(", ").join(map(pg_sql.Identifier, columns))
    )
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(
                [
                    json_text(row[name]) if json else row[name]
                    for name, json in zip(columns, is_json, strict=True)
                ]
            )


def complete_stage_run(
    *,
    session: Session,
    stage_run_id: str,
    owner: str,
    outputs: Mapping[str, str],
    cache_key: str,
    is_cache_hit: bool,
    engine_version: str,
) -> list[StageMessage] | None:
    """Mark the stage succeeded if `owner` still holds it; queue what it unblocked.

    Returns:
        Messages to send after commit, or None when the lease was lost or the stage canceled
        (the caller must roll back so nothing it wrote becomes visible).
    """
    now = utcnow()
    updated = session.execute(
        update(StageRun)
        .where(
            StageRun.id == stage_run_id,
            StageRun.lease_owner == owner,
            StageRun.state == StageState.RUNNING,
        )
        .values(
            state=StageState.SUCCEEDED,
            outputs=dict(outputs),
            cache_key=cache_key,
            is_cache_hit=is_cache_hit,
            engine_version=engine_version,
            finished_at=now,
            lease_expires_at=None,
            error=None,
            error_class=None,
        )
    ).rowcount
    if not updated:
        return None
    if is_cache_hit:
        session.execute(
            update(StageCache)
            .where(StageCache.cache_key == cache_key)
            .values(hits=StageCache.hits + 1)
        )
    job_id, kind = session.execute(
        select(StageRun.job_id, StageRun.kind).where(StageRun.id == stage_run_id)
    ).one()
    return _advance_job(
        session=session, job_id=job_id, stage_kind=kind, stage_state=StageState.SUCCEEDED
    )


def fail_stage_run(
    *,
    session: Session,
    stage_run_id: str,
    owner: str,
    error: str,
    error_class: ErrorClass,
    retry_in_s: float | None,
) -> list[StageMessage] | None:
    """Record a failure: requeue for a retry, or fail the stage and cancel its downstream.

    Returns:
        Messages to send after commit (the retry), or None when the lease was lost.
    """
    now = utcnow()
    is_retry = retry_in_s is not None
    updated = session.execute(
        update(StageRun)
        .where(
            StageRun.id == stage_run_id,
            StageRun.lease_owner == owner,
            StageRun.state == StageState.RUNNING,
        )
        .values(
            state=StageState.QUEUED if is_retry else StageState.FAILED,
            queued_at=now if is_retry else StageRun.queued_at,
            finished_at=None if is_retry else now,
            lease_owner=None,
            lease_expires_at=None,
            error=error[:4000],
            error_class=error_class,
        )
    ).rowcount
    if not updated:
        return None
    stage = session.get(StageRun, stage_run_id)
    if is_retry:
        _record_stage_change(
            session=session,
            job_id=stage.job_id,
            stage_kind=stage.kind,
            stage_state=StageState.QUEUED,
            previous_state=None,
        )
        priority = _job_priority(session=session, job_id=stage.job_id)
        return [StageMessage(stage.id, stage.queue, priority, countdown_s=retry_in_s)]
    _cancel_downstream(session=session, stage=stage)
    return _advance_job(
        session=session,
        job_id=stage.job_id,
        stage_kind=stage.kind,
        stage_state=StageState.FAILED,
        error_class=error_class,
    )


def _cancel_downstream(*, session: Session, stage: StageRun) -> None:
    depends_on = dict(
        session.execute(
            select(StageRun.name, StageRun.depends_on).where(StageRun.job_id == stage.job_id)
        ).all()
    )
    names = downstream_names(stage.name, depends_on)
    if names:
        session.execute(
            update(StageRun)
            .where(StageRun.job_id == stage.job_id, StageRun.name.in_(names))
            .values(
                state=StageState.CANCELED,
                error_class=ErrorClass.UPSTREAM,
                error=f"not run: upstream stage {stage.name!r} failed",
                finished_at=utcnow(),
            )
        )


def _job_priority(*, session: Session, job_id: str) -> int:
    return session.execute(
        select(Batch.priority).join(Job, Job.batch_id == Batch.id).where(Job.id == job_id)
    ).scalar_one()


def queue_ready_stages(*, session: Session, job_id: str) -> list[StageMessage]:
    """Queue the job's pending stages whose inputs are ready and refresh its state.

    Returns:
        Messages to send after commit.
    """
    return _advance_job(session=session, job_id=job_id)


class _JobFacts(NamedTuple):
    state: str
    batch_id: str
    tenant_id: str
    custom_id: str


def _job_facts(*, session: Session, job_id: str, lock: bool = False) -> _JobFacts:
    query = select(Job.state, Job.batch_id, Job.tenant_id, Job.custom_id).where(Job.id == job_id)
    row = session.execute(query.with_for_update() if lock else query).one()
    return _JobFacts(*row)


def _record_stage_change(
    *,
    session: Session,
    job_id: str,
    stage_kind: str | None,
    stage_state: str | None,
    previous_state: str | None,
    error_class: str | None = None,
    facts: _JobFacts | None = None,
) -> None:
    """Events for one job whose stage moved (previous_state None: the job's state did not)."""
    facts = facts or _job_facts(session=session, job_id=job_id)
    change = JobChange(
        job_id=job_id,
        batch_id=facts.batch_id,
        tenant_id=facts.tenant_id,
        custom_id=facts.custom_id,
        state=facts.state,
        previous_state=previous_state or facts.state,
        stage=stage_kind,
        stage_state=stage_state,
        error_class=error_class,
    )
    record_job_changes(session=session, changes=[change])


def _advance_job(
    *,
    session: Session,
    job_id: str,
    stage_kind: str | None = None,
    stage_state: str | None = None,
    error_class: str | None = None,
) -> list[StageMessage]:
    """Queue the stages whose inputs are all ready and refresh the job's derived state.

    Records the job's events when a stage moved (`stage_kind`) or the job's state changed.

    The job row is locked first: two stages of one job finishing at once (parallel branches)
    must not each read the other as still running, or neither would queue the stage they both
    feed nor finish the job. On PostgreSQL the second waits here for the first to commit and
    then reads its result (read committed takes a new snapshot per statement); SQLite already
    runs one writer at a time.
    """
    before = _job_facts(session=session, job_id=job_id, lock=True)
    rows = session.execute(
        select(
            StageRun.id, StageRun.name, StageRun.state, StageRun.depends_on, StageRun.queue
        ).where(StageRun.job_id == job_id)
    ).all()
    states = {row.name: row.state for row in rows}
    ready = set(ready_stage_names(states, {row.name: row.depends_on for row in rows}))
    now = utcnow()
    messages: list[StageMessage] = []
    if ready:
        priority = _job_priority(session=session, job_id=job_id)
        ready_rows = [row for row in rows if row.name in ready]
        session.execute(
            update(StageRun)
            .where(StageRun.id.in_([row.id for row in ready_rows]))
            .values(state=StageState.QUEUED, queued_at=now)
        )
        messages = [StageMessage(row.id, row.queue, priority) for row in ready_rows]
        states.update(dict.fromkeys(ready, StageState.QUEUED.value))
    state = job_state(states.values())
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state.not_in([s.value for s in TERMINAL_JOB_STATES]))
        .values(
            state=state,
            finished_at=now if state in TERMINAL_JOB_STATES else None,
        )
    )
    after = before._replace(state=before.state if before.state in TERMINAL_JOB_STATES else state)
    if stage_kind is not None or after.state != before.state:
        _record_stage_change(
            session=session,
            job_id=job_id,
            stage_kind=stage_kind,
            stage_state=stage_state,
            previous_state=before.state,
            error_class=error_class,
            facts=after,
        )
    return messages


def cancel_jobs(*, session: Session, job_ids: Iterable[str]) -> tuple[int, int]:
    """Cancel the unfinished jobs among `job_ids` and their unfinished stages.

    A running stage is marked canceled here; its worker finds the lease gone at commit time
    and discards its result, so no half-made artifact becomes visible in the job.

    Returns:
        (jobs canceled, stages canceled)
    """
    ids = list(job_ids)
    if not ids:
        return 0, 0
    now = utcnow()
    stages = session.execute(
        update(StageRun)
        .where(StageRun.job_id.in_(ids), StageRun.state.in_(ACTIVE_STAGE_STATES))
        .values(
            state=StageState.CANCELED,
            error_class=ErrorClass.CANCELED,
            error="canceled by request",
            finished_at=now,
            lease_expires_at=None,
        )
    ).rowcount
    canceled = session.execute(
        update(Job)
        .where(Job.id.in_(ids), Job.state.in_([JobState.QUEUED, JobState.RUNNING]))
        .values(state=JobState.CANCELED, finished_at=now)
        .returning(Job.id, Job.batch_id, Job.tenant_id, Job.custom_id)
    ).all()
    record_jobs_moved(session=session, rows=canceled, state=JobState.CANCELED)
    return len(canceled), stages


def cancel_batch(*, session: Session, batch_id: str) -> tuple[int, int]:
    """Cancel every unfinished job of the batch and stamp the batch."""
    session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.canceled_at.is_(None))
        .values(canceled_at=utcnow())
    )
    job_ids = session.execute(
        select(Job.id).where(
            Job.batch_id == batch_id, Job.state.in_([JobState.QUEUED, JobState.RUNNING])
        )
    ).scalars()
    return cancel_jobs(session=session, job_ids=list(job_ids))


def stale_stage_runs(*, session: Session, queued_before_s: float, limit: int) -> list[StageMessage]:
    """Stages stuck `queued` past the timeout, or `running` with an expired lease.

    Their `queued_at` is refreshed so the next pass does not send them again at once.
    """
    now = utcnow()
    rows = session.execute(
        select(StageRun.id, StageRun.queue, Batch.priority)
        .join(Job, Job.id == StageRun.job_id)
        .join(Batch, Batch.id == Job.batch_id)
        .where(
            or_(
                (StageRun.state == StageState.QUEUED)
                & (StageRun.queued_at < now - timedelta(seconds=queued_before_s)),
                (StageRun.state == StageState.RUNNING) & (StageRun.lease_expires_at < now),
            )
        )
        # earliest deadline first within a priority level, then submission order
        .order_by(
            Batch.priority.desc(),
            Job.deadline.is_(None),
            Job.deadline,
            Job.created_at,
            Job.position,
        )
        .limit(limit)
    ).all()
    if rows:
        ids = [r.id for r in rows]
        session.execute(
            update(StageRun)
            .where(StageRun.id.in_(ids), StageRun.state == StageState.QUEUED)
            .values(queued_at=now)
        )
        # A dead runner's stage goes back to `queued` with its lease released: re-sent once
        # here and then treated as any queued stage, instead of once per pass until a worker
        # is free to claim it; a runner that was only slow finds its lease gone at commit.
        session.execute(
            update(StageRun)
            .where(
                StageRun.id.in_(ids),
                StageRun.state == StageState.RUNNING,
                StageRun.lease_expires_at < now,
            )
            .values(state=StageState.QUEUED, queued_at=now, lease_owner=None, lease_expires_at=None)
        )
    return [StageMessage(r.id, r.queue, r.priority) for r in rows]
