"""The concurrent-job quota: how many unfinished jobs a tenant may have at once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from schemas.states import JobState
from schemas.tables import Job


@dataclass
class QuotaExceeded(Exception):
    """Accepting `adding` more jobs would take the tenant past `max_jobs` unfinished ones."""

    unfinished: int
    adding: int
    max_jobs: int


def check_job_quota(*, session: Session, tenant_id: str, max_jobs: int, adding: int) -> None:
    """Refuse a batch whose jobs would not all fit; call it in the transaction that inserts them.

    On PostgreSQL a per-tenant advisory lock, held to the end of the transaction, serializes
    the count-then-insert of concurrent submissions (SQLite's BEGIN IMMEDIATE does already).

    Args:
        max_jobs: the limit; 0 or less means none.
        adding: the batch's job count.

    Raises:
        QuotaExceeded: with the numbers, so the answer can name them.
    """
    if max_jobs <= 0:
        return
    if session.get_bind().dialect.name == "postgresql":
        lock_id = int.from_bytes(
            hashlib.sha256(tenant_id.encode()).digest()[:8], "big", signed=True
        )
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
    unfinished = session.execute(
        select(func.count())
        .select_from(Job)
        .where(Job.tenant_id == tenant_id, Job.state.in_((JobState.QUEUED, JobState.RUNNING)))
    ).scalar_one()
    if unfinished + adding > max_jobs:
        raise QuotaExceeded(unfinished=unfinished, adding=adding, max_jobs=max_jobs)
