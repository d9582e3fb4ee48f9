"""Read side: batch, job and artifact views for the API, without N+1 queries."""

from __future__ import annotations

import base64
import threading
from collections.abc import Hashable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from producer.ids import as_utc
from producer.job_progress import job_progress
from schemas.api import BatchPage, BatchView, JobSummary, JobView, OutputRef, StageView
from schemas.states import TERMINAL_JOB_STATES, ErrorClass, JobState, StageState
from schemas.tables import Artifact, Batch, Event, Job, StageRun


def job_counts(*, session: Session, batch_ids: Iterable[str]) -> dict[str, dict[JobState, int]]:
    """Jobs per state for each batch, in one grouped query."""
    ids = list(batch_ids)
    counts: dict[str, dict[JobState, int]] = {bid: dict.fromkeys(JobState, 0) for bid in ids}
    if not ids:
        return counts
    rows = session.execute(
        select(Job.batch_id, Job.state, func.count())
        .where(Job.batch_id.in_(ids))
        .group_by(Job.batch_id, Job.state)
    )
    for batch_id, state, count in rows:
        counts[batch_id][JobState(state)] = count
    return counts


class TenantVersioned:
    """Values one API replica keeps while the tenant's event log has not moved.

    Every change of a job or a stage writes an event row in its transaction
    (producer/events.py), so a value computed after reading the tenant's latest event id is
    still exact while that id is unchanged; a newer event means computing it again. Read the
    version before computing: a change committed in between then only costs a recomputation.
    """

    def __init__(self, *, max_entries: int) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[Any, int]] = {}

    @staticmethod
    def version(*, session: Session, tenant_id: str) -> int:
        latest = session.execute(
            select(func.max(Event.id)).where(Event.tenant_id == tenant_id)
        ).scalar_one_or_none()
        return -1 if latest is None else int(latest)

    def get(self, key: Hashable, *, version: int) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
        return entry[0] if entry is not None and entry[1] == version else None

    def put(self, key: Hashable, value: Any, *, version: int) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (value, version)


class RecentCounts(TenantVersioned):
    """Jobs per state of each batch: counting a 10,000-job batch is most of a status read's
    cost, and dashboards poll the same batch together."""

    def __init__(self, *, max_entries: int = 10_000) -> None:
        super().__init__(max_entries=max_entries)

    def get_counts(
        self, *, session: Session, tenant_id: str, batch_id: str, version: int | None = None
    ) -> dict[JobState, int]:
        if version is None:
            version = self.version(session=session, tenant_id=tenant_id)
        counts = self.get(batch_id, version=version)
        if counts is None:
            counts = job_counts(session=session, batch_ids=[batch_id])[batch_id]
            self.put(batch_id, counts, version=version)
        return dict(counts)


def _last_finished(*, session: Session, batch_ids: list[str]) -> dict[str, datetime | None]:
    rows = session.execute(
        select(Job.batch_id, func.max(Job.finished_at))
        .where(Job.batch_id.in_(batch_ids))
        .group_by(Job.batch_id)
    )
    return {batch_id: as_utc(finished) for batch_id, finished in rows}


def _batch_view(
    batch: Batch, counts: dict[JobState, int], last_finished: datetime | None
) -> BatchView:
    done = sum(counts[state] for state in TERMINAL_JOB_STATES)
    is_complete = done == batch.item_count
    return BatchView(
        id=batch.id,
        template=batch.template,
        priority=batch.priority,
        metadata=batch.meta,
        item_count=batch.item_count,
        counts=counts,
        percent_done=round(100.0 * done / batch.item_count, 2) if batch.item_count else 100.0,
        created_at=as_utc(batch.created_at),
        canceled_at=as_utc(batch.canceled_at),
        completed_at=last_finished if is_complete else None,
        deadline=as_utc(batch.deadline),
    )


def get_batch(*, session: Session, tenant_id: str, batch_id: str) -> Batch | None:
    if "\x00" in batch_id:  # no such id, and PostgreSQL refuses NUL in a query parameter
        return None
    return session.execute(
        select(Batch).where(Batch.id == batch_id, Batch.tenant_id == tenant_id)
    ).scalar_one_or_none()


def batch_view(
    *,
    session: Session,
    tenant_id: str,
    batch_id: str,
    jobs_offset: int,
    jobs_limit: int,
    job_state: JobState | None = None,
    custom_id: str | None = None,
    recent_counts: RecentCounts | None = None,
    version: int | None = None,
) -> BatchView | None:
    """The batch with counts per state and one page of its jobs in submission order.

    Args:
        job_state: list only the jobs in this state.
        custom_id: list only the jobs whose custom_id contains this text (case-insensitive).
        recent_counts: counts per state kept while the tenant has no newer event, else counted.
        version: the tenant's latest event id, when the caller has read it already.
    """
    batch = get_batch(session=session, tenant_id=tenant_id, batch_id=batch_id)
    if batch is None:
        return None
    if recent_counts is not None:
        counts = recent_counts.get_counts(
            session=session, tenant_id=tenant_id, batch_id=batch.id, version=version
        )
    else:
        counts = job_counts(session=session, batch_ids=[batch.id])[batch.id]
    last = None
    if sum(counts[state] for state in TERMINAL_JOB_STATES) == batch.item_count:
        # only a finished batch has a completion time; skip the scan over its jobs otherwise
        last = _last_finished(session=session, batch_ids=[batch.id]).get(batch.id)
    view = _batch_view(batch, counts, last)
    query = select(Job.id, Job.custom_id, Job.state, Job.started_at, Job.finished_at).where(
        Job.batch_id == batch.id
    )
    if job_state is not None:
        query = query.where(Job.state == job_state)
    if custom_id:
        query = query.where(Job.custom_id.icontains(custom_id, autoescape=True))
    jobs = session.execute(query.order_by(Job.position).offset(jobs_offset).limit(jobs_limit)).all()
    # a succeeded job is at no stage: only the others need their stage runs read
    progress = job_progress(
        session=session, job_ids=[row.id for row in jobs if row.state != JobState.SUCCEEDED]
    )
    view.jobs = [
        JobSummary(
            id=row.id,
            custom_id=row.custom_id,
            state=JobState(row.state),
            started_at=as_utc(row.started_at),
            finished_at=as_utc(row.finished_at),
            stage=progress[row.id].stage if row.id in progress else None,
            error_class=progress[row.id].error_class if row.id in progress else None,
        )
        for row in jobs
    ]
    view.jobs_offset, view.jobs_limit = jobs_offset, jobs_limit
    return view


def list_batches(
    *, session: Session, tenant_id: str, limit: int, cursor: tuple[datetime, str] | None
) -> BatchPage:
    """Newest first, keyset-paginated on (created_at, id)."""
    query = select(Batch).where(Batch.tenant_id == tenant_id)
    batches, next_cursor = keyset_page(
        session=session,
        query=query,
        order=(Batch.created_at, Batch.id),
        limit=limit,
        cursor=cursor,
    )
    ids = [b.id for b in batches]
    counts = job_counts(session=session, batch_ids=ids)
    last = _last_finished(session=session, batch_ids=ids)
    views = [_batch_view(b, counts[b.id], last.get(b.id)) for b in batches]
    return BatchPage(batches=views, next_cursor=next_cursor)


def keyset_page(
    *,
    session: Session,
    query: Select[Any],
    order: tuple[InstrumentedAttribute[datetime], InstrumentedAttribute[str]],
    limit: int,
    cursor: tuple[datetime, str] | None,
) -> tuple[list[Any], str | None]:
    """One page of `query`'s rows, newest first on `order` (a time and an id), and the cursor
    of the next page, or None on the last. Keyset, not offset: a page costs the same however
    deep it is, and rows inserted meanwhile neither repeat nor vanish."""
    at, row_id = order
    if cursor is not None:
        query = query.where(tuple_(at, row_id) < cursor)
    rows = list(
        session.execute(query.order_by(at.desc(), row_id.desc()).limit(limit + 1)).scalars()
    )
    if len(rows) <= limit:
        return rows, None
    tail = rows[limit - 1]
    return rows[:limit], encode_cursor(as_utc(getattr(tail, at.key)), getattr(tail, row_id.key))


def encode_cursor(created_at: datetime, batch_id: str) -> str:
    """An opaque, URL-safe page cursor."""
    raw = f"{created_at.isoformat()}|{batch_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ValueError for a cursor this API did not make."""
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    created, batch_id = raw.split("|", 1)
    if "\x00" in batch_id:  # never made here, and PostgreSQL refuses NUL in a query parameter
        raise ValueError("NUL in the cursor's batch id")
    return datetime.fromisoformat(created), batch_id


def get_job(*, session: Session, tenant_id: str, job_id: str) -> Job | None:
    if "\x00" in job_id:  # no such id, and PostgreSQL refuses NUL in a query parameter
        return None
    return session.execute(
        select(Job).where(Job.id == job_id, Job.tenant_id == tenant_id)
    ).scalar_one_or_none()


def job_view(*, session: Session, tenant_id: str, job_id: str) -> JobView | None:
    """The job with every stage run, its timings, error and outputs."""
    job = get_job(session=session, tenant_id=tenant_id, job_id=job_id)
    if job is None:
        return None
    stages = session.execute(select(StageRun).where(StageRun.job_id == job.id)).scalars().all()
    digests = {d for stage in stages for d in stage.outputs.values()}
    artifacts = {
        a.digest: a
        for a in session.execute(select(Artifact).where(Artifact.digest.in_(digests))).scalars()
    }
    order = {name: i for i, name in enumerate(_stage_order(stages))}
    return JobView(
        id=job.id,
        batch_id=job.batch_id,
        custom_id=job.custom_id,
        state=JobState(job.state),
        created_at=as_utc(job.created_at),
        started_at=as_utc(job.started_at),
        finished_at=as_utc(job.finished_at),
        stages=[_stage_view(s, artifacts) for s in sorted(stages, key=lambda s: order[s.name])],
        deadline=as_utc(job.deadline),
    )


def _stage_order(stages: Iterable[StageRun]) -> list[str]:
    """Stage names with dependencies first, ties by name (a stable, readable order)."""
    pending = {s.name: set(s.depends_on) for s in stages}
    order: list[str] = []
    while pending:
        ready = sorted(n for n, deps in pending.items() if not deps - set(order)) or sorted(pending)
        order.extend(ready)
        for name in ready:
            pending.pop(name)
    return order


def _stage_view(stage: StageRun, artifacts: dict[str, Artifact]) -> StageView:
    started, finished = as_utc(stage.started_at), as_utc(stage.finished_at)
    duration = (finished - started).total_seconds() if started and finished else None
    return StageView(
        name=stage.name,
        kind=stage.kind,
        engine=stage.engine,
        engine_version=stage.engine_version,
        state=StageState(stage.state),
        attempts=stage.attempts,
        max_attempts=stage.max_attempts,
        queued_at=as_utc(stage.queued_at),
        started_at=started,
        finished_at=finished,
        duration_s=duration,
        is_cache_hit=stage.is_cache_hit,
        error_class=ErrorClass(stage.error_class) if stage.error_class else None,
        error=stage.error,
        outputs=[
            _output_ref(port, artifacts[digest])
            for port, digest in sorted(stage.outputs.items())
            if digest in artifacts
        ],
    )


def _output_ref(port: str, artifact: Artifact) -> OutputRef:
    return OutputRef(
        port=port,
        digest=artifact.digest,
        media_type=artifact.media_type,
        size_bytes=artifact.size_bytes,
        duration_s=artifact.duration_s,
        url=f"/v1/artifacts/{artifact.digest}",
    )
