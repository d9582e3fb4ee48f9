"""Where each job stands: its current stage and why it stopped, for the job tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.states import ErrorClass, StageState
from schemas.tables import StageRun


@dataclass(frozen=True)
class StageSnapshot:
    name: str
    state: str
    error_class: str | None
    started_at: datetime | None


@dataclass(frozen=True)
class Progress:
    stage: str | None
    error_class: ErrorClass | None


# the state a job is "at", most telling first; a canceled stage that never started is only a
# consequence (upstream failure, cancellation of a later stage), so it ranks last
_RANK = {
    StageState.RUNNING: 0,
    StageState.QUEUED: 1,
    StageState.FAILED: 2,
    StageState.CANCELED: 3,
    StageState.PENDING: 4,
}


# succeeded stages never decide, and a pending one only when nothing else is open, which no
# committed transaction leaves behind: reading only these keeps a page of 100 queued jobs at 100
# rows instead of one per stage (the status read is the hottest query)
_TELLING_STATES = (StageState.RUNNING, StageState.QUEUED, StageState.FAILED, StageState.CANCELED)


def current_progress(stages: Sequence[StageSnapshot]) -> Progress:
    """The stage a job is at and its error class; (None, None) when every stage succeeded.

    Ties between stages in the same state go to the one that started first, then by name, so
    the answer is stable between two reads.
    """
    open_stages = [s for s in stages if s.state != StageState.SUCCEEDED]
    if not open_stages:
        return Progress(None, None)
    if len(open_stages) == 1 == len(stages):  # the common case on a status page: one open stage
        only = open_stages[0]
        return Progress(only.name, ErrorClass(only.error_class) if only.error_class else None)

    def order(stage: StageSnapshot) -> tuple[int, int, str, str]:
        never_started = 1 if stage.started_at is None else 0
        started = stage.started_at.isoformat() if stage.started_at else ""
        return (_RANK[StageState(stage.state)], never_started, started, stage.name)

    at = min(open_stages, key=order)
    failed = next((s for s in stages if s.state == StageState.FAILED), None)
    error = (failed or at).error_class
    return Progress(at.name, ErrorClass(error) if error else None)


def job_progress(*, session: Session, job_ids: Iterable[str]) -> dict[str, Progress]:
    """Progress of each job, from one query over their stage runs."""
    ids = list(job_ids)
    if not ids:
        return {}
    by_job: dict[str, list[StageSnapshot]] = defaultdict(list)
    rows = session.execute(
        select(
            StageRun.job_id,
            StageRun.name,
            StageRun.state,
            StageRun.error_class,
            StageRun.started_at,
        )
        # `state || ''` keeps the state index out of it: SQLite would otherwise walk every
        # queued stage of every batch (ix_stage_run_state_queued_at) instead of these jobs'
        .where(StageRun.job_id.in_(ids), StageRun.state.concat("").in_(_TELLING_STATES))
    )
    for row in rows:
        by_job[row.job_id].append(
            StageSnapshot(row.name, row.state, row.error_class, row.started_at)
        )
    return {job_id: current_progress(by_job.get(job_id, [])) for job_id in ids}
