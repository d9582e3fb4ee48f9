"""Deadlines: parsing an item's deadline, and moving unfinished jobs past theirs to `expired`.

A job's deadline is the item's `deadline` field, else the batch's. Expiry cancels the job's
unfinished stage runs (error class `expired`): a queued one is skipped when a worker claims it,
a running one is stopped by its worker's heartbeat, which finds the stage no longer running.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from producer.events import record_jobs_moved
from producer.ids import as_utc, utcnow
from producer.revoke import revocable_stage_run_ids
from schemas.api import Deadline
from schemas.states import ErrorClass, JobState, StageState
from schemas.tables import Job, StageRun

_DEADLINE = TypeAdapter(Deadline)
_UNFINISHED_JOB = (JobState.QUEUED, JobState.RUNNING)
_UNFINISHED_STAGE = (StageState.PENDING, StageState.QUEUED, StageState.RUNNING)


def parse_item_deadline(value: Any) -> datetime:
    """An item's `deadline` field: an RFC 3339 string with an offset.

    Raises:
        ValueError: not such a string.
    """
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        # as JSON: strict mode then takes RFC 3339 strings, as for the batch's deadline
        return _DEADLINE.validate_json(json.dumps(value))
    except (ValidationError, ValueError):
        raise ValueError(
            "an RFC 3339 time with an offset, e.g. 2026-12-07T06:00:00Z, not " + repr(value)[:80]
        ) from None


def deadline_errors(
    *, deadline: datetime | None, field: str, now: datetime
) -> list[dict[str, Any]]:
    """A problem entry when `deadline` is not in the future."""
    if deadline is None or deadline > now:
        return []
    return [{"field": field, "detail": f"the deadline {deadline.isoformat()} has passed"}]


def is_overdue(*, session: Session, job_id: str, now: datetime | None = None) -> bool:
    deadline = session.execute(select(Job.deadline).where(Job.id == job_id)).scalar_one_or_none()
    return deadline is not None and as_utc(deadline) <= (now or utcnow())


def expire_jobs(*, session: Session, job_ids: Iterable[str]) -> int:
    """Move the unfinished jobs among `job_ids` to `expired`, canceling their open stages.

    Returns:
        How many jobs expired.
    """
    ids = list(job_ids)
    if not ids:
        return 0
    now = utcnow()
    session.execute(
        update(StageRun)
        .where(StageRun.job_id.in_(ids), StageRun.state.in_(_UNFINISHED_STAGE))
        .values(
            state=StageState.CANCELED,
            error_class=ErrorClass.EXPIRED,
            error="not finished: the job's deadline passed",
            finished_at=now,
            lease_expires_at=None,
        )
    )
    expired = session.execute(
        update(Job)
        .where(Job.id.in_(ids), Job.state.in_(_UNFINISHED_JOB))
        .values(state=JobState.EXPIRED, finished_at=now)
        .returning(Job.id, Job.batch_id, Job.tenant_id, Job.custom_id)
    ).all()
    # job.updated + job.expired per job, batch.updated/completed: in this same transaction
    record_jobs_moved(session=session, rows=expired, state=JobState.EXPIRED)
    return len(expired)


def expire_overdue_jobs(*, session: Session, limit: int = 1000) -> list[str]:
    """The reconciler's sweep: expire unfinished jobs whose deadline has passed.

    Returns:
        The stage runs those jobs had queued or running: their broker messages to revoke.
    """
    ids = list(
        session.execute(
            select(Job.id)
            .where(Job.state.in_(_UNFINISHED_JOB), Job.deadline <= utcnow())
            .limit(limit)
        ).scalars()
    )
    to_revoke = revocable_stage_run_ids(session=session, job_ids=ids)
    expire_jobs(session=session, job_ids=ids)
    return to_revoke
