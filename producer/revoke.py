"""Revoking the broker messages of canceled or expired stage runs (task id = stage run id)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery import Celery
from sqlalchemy import select
from sqlalchemy.orm import Session

from producer.settings import Settings
from schemas.states import StageState
from schemas.tables import Job, StageRun

log = logging.getLogger(__name__)


def revoke_stage_runs(*, app: Celery, settings: Settings, stage_run_ids: Sequence[str]) -> int:
    """Ask every worker to drop these stage runs' messages; best effort, never raises.

    A revoked message still waiting in a queue is discarded when a worker takes it. A running
    stage is not killed (terminating a pool child mid-upload is how half-written work
    happens); its worker's heartbeat sees the stage canceled and stops it cooperatively.
    The filesystem broker of the embedded mode has no remote control: there the claim (which
    takes only `queued` rows) and the heartbeat do all the work.

    Returns:
        How many ids were sent to the workers.
    """
    if not stage_run_ids or settings.is_embedded_broker:
        return 0
    try:
        app.control.revoke(list(stage_run_ids))
    except Exception:  # the database already says canceled; revoking only saves a claim
        log.warning("could not revoke %d stage runs", len(stage_run_ids), exc_info=True)
        return 0
    return len(stage_run_ids)


def revocable_stage_run_ids(
    *, session: Session, job_ids: Sequence[str] = (), batch_id: str | None = None
) -> list[str]:
    """Stage runs of these jobs (or of the batch) that a broker message may still carry.

    Call it in the cancel's transaction, before the stages are marked canceled.
    """
    query = select(StageRun.id).where(StageRun.state.in_((StageState.QUEUED, StageState.RUNNING)))
    if batch_id is not None:
        query = query.where(StageRun.job_id.in_(select(Job.id).where(Job.batch_id == batch_id)))
    elif job_ids:
        query = query.where(StageRun.job_id.in_(list(job_ids)))
    else:
        return []
    return list(session.execute(query).scalars())
