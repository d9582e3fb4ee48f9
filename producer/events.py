"""Writing the event log (the outbox) in the transaction that makes the change it reports.

Nothing reported is lost and nothing is reported that did not commit, because the event rows
commit or roll back with the state change. Readers (the SSE endpoint, the webhook relay) follow
the log by `id > cursor`, which needs ids to become visible in increasing order: on SQLite every
writer already holds the database lock (BEGIN IMMEDIATE), on PostgreSQL `lock_event_log` takes a
transaction-scoped advisory lock just before the insert, so a transaction with a lower id has
always committed before one with a higher id can insert. The lock is taken after the
transaction's row updates, so it is held only for the insert and the commit, and no transaction
waits for a row lock while holding it (no deadlock).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from producer.ids import utcnow
from producer.queries import job_counts
from schemas.events import TERMINAL_JOB_EVENTS, BatchState, EventType
from schemas.states import TERMINAL_JOB_STATES, JobState
from schemas.tables import Batch, Event

# any constant shared by every writer; "mediaq" in ASCII
EVENT_LOG_LOCK_KEY = 0x6D6564696171


@dataclass(frozen=True)
class JobChange:
    """A job after a transition, with the stage that caused it.

    Attributes:
        previous_state: the job's state before the transaction; equal to `state` when only the
            stage moved.
        stage: kind of the stage now running or last finished; None when unknown.
        stage_state: that stage's state after the transition.
        error_class: the failed stage's error class when the job failed.
    """

    job_id: str
    batch_id: str
    tenant_id: str
    custom_id: str
    state: str
    previous_state: str
    stage: str | None = None
    stage_state: str | None = None
    error_class: str | None = None


def lock_event_log(*, session: Session) -> None:
    """Serialise event writers until this transaction ends (PostgreSQL; SQLite already is)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_LOG_LOCK_KEY})


def record_events(*, session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert event rows (see `event_row`) under the event-log lock, in one statement."""
    if not rows:
        return
    lock_event_log(session=session)
    session.execute(insert(Event.__table__), rows)


def event_row(
    *,
    type_: EventType,
    tenant_id: str,
    batch_id: str,
    data: dict[str, Any],
    job_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "batch_id": batch_id,
        "job_id": job_id,
        "type": type_.value,
        "data": data,
        "created_at": now or utcnow(),
    }


def record_job_changes(*, session: Session, changes: Iterable[JobChange]) -> None:
    """job.updated for every change; the terminal job event for jobs that just finished; and
    batch.updated (plus batch.completed for the last job) where a job's state moved.

    Call it after the transaction's row updates. The batch counts are read after taking the
    event-log lock, so of two transactions finishing a batch's last two jobs, exactly one sees
    the batch complete.
    """
    changes = list(changes)
    if not changes:
        return
    lock_event_log(session=session)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    moved: dict[str, str] = {}  # batch id -> tenant id, for batches whose counts changed
    for change in changes:
        data = _job_data(change)
        rows.append(_job_event(EventType.JOB_UPDATED, change, data, now))
        if change.state != change.previous_state:
            moved[change.batch_id] = change.tenant_id
            terminal = TERMINAL_JOB_EVENTS.get(JobState(change.state))
            if terminal is not None:
                rows.append(_job_event(terminal, change, data, now))
    rows.extend(batch_event_rows(session=session, batches=moved, now=now))
    session.execute(insert(Event.__table__), rows)


def _job_data(change: JobChange) -> dict[str, Any]:
    return {
        "job_id": change.job_id,
        "batch_id": change.batch_id,
        "custom_id": change.custom_id,
        "state": change.state,
        "stage": change.stage,
        "stage_state": change.stage_state,
        "error_class": change.error_class if change.state == JobState.FAILED else None,
    }


def _job_event(
    type_: EventType, change: JobChange, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return event_row(
        type_=type_,
        tenant_id=change.tenant_id,
        batch_id=change.batch_id,
        job_id=change.job_id,
        data=data,
        now=now,
    )


def batch_event_rows(
    *, session: Session, batches: Mapping[str, str], now: datetime
) -> list[dict[str, Any]]:
    """batch.updated for each batch (id -> tenant), and batch.completed for finished ones."""
    if not batches:
        return []
    counts = job_counts(session=session, batch_ids=batches)
    facts = session.execute(
        select(Batch.id, Batch.item_count, Batch.canceled_at).where(Batch.id.in_(list(batches)))
    ).all()
    rows = []
    for batch_id, item_count, canceled_at in facts:
        data = batch_data(
            batch_id=batch_id,
            item_count=item_count,
            counts=counts[batch_id],
            is_canceled=canceled_at is not None,
        )
        types = [EventType.BATCH_UPDATED]
        if data["state"] in (BatchState.COMPLETED, BatchState.CANCELED):
            types.append(EventType.BATCH_COMPLETED)
        rows.extend(
            event_row(
                type_=type_, tenant_id=batches[batch_id], batch_id=batch_id, data=data, now=now
            )
            for type_ in types
        )
    return rows


def batch_data(
    *, batch_id: str, item_count: int, counts: Mapping[JobState, int], is_canceled: bool
) -> dict[str, Any]:
    """The payload of batch events: state, counts per job state and percent done."""
    done = sum(counts.get(state, 0) for state in TERMINAL_JOB_STATES)
    if item_count and done >= item_count:
        state = BatchState.CANCELED if is_canceled else BatchState.COMPLETED
    elif done or counts.get(JobState.RUNNING, 0):
        state = BatchState.RUNNING
    else:
        state = BatchState.QUEUED
    return {
        "batch_id": batch_id,
        "state": state.value,
        "item_count": item_count,
        "counts": {job_state.value: counts.get(job_state, 0) for job_state in JobState},
        "percent_done": round(100.0 * done / item_count, 2) if item_count else 100.0,
    }


def record_jobs_moved(*, session: Session, rows: Iterable[Any], state: JobState) -> None:
    """Events for jobs that this transaction moved to `state` in bulk (cancel, expiry, retry).

    Args:
        rows: (id, batch_id, tenant_id, custom_id) of exactly the jobs moved, best taken from
            the UPDATE itself (`.returning(...)`), so a job that finished on its own in between
            is not reported twice.
    """
    record_job_changes(
        session=session,
        changes=[
            JobChange(
                job_id=row[0],
                batch_id=row[1],
                tenant_id=row[2],
                custom_id=row[3],
                state=state.value,
                previous_state="",  # any other state: the job did move
            )
            for row in rows
        ],
    )


def batch_created_event(
    *,
    tenant_id: str,
    batch_id: str,
    template: str,
    priority: int,
    item_count: int,
    now: datetime,
) -> dict[str, Any]:
    """batch.created: one event for the whole batch, however many items it has."""
    counts = {JobState.QUEUED: item_count}
    data = batch_data(batch_id=batch_id, item_count=item_count, counts=counts, is_canceled=False)
    data |= {"template": template, "priority": priority}
    return event_row(
        type_=EventType.BATCH_CREATED, tenant_id=tenant_id, batch_id=batch_id, data=data, now=now
    )
