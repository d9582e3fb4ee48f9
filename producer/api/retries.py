"""POST /v1/jobs/{id}/retry and /v1/batches/{id}/retry: run what failed or was canceled again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends

from producer.api.batches import PROBLEMS
from producer.api.deps import Services, SubmitTenant, services
from producer.api.problems import ProblemError, not_found
from producer.dispatch import StageMessage, send_stage_runs
from producer.queries import get_batch, get_job
from producer.retry import RETRYABLE_JOB_STATES, retry_batch, retry_jobs
from schemas.api import RetryResult

router = APIRouter(prefix="/v1", tags=["retries"])


def _send(svc: Services, messages: list[StageMessage]) -> None:
    send_stage_runs(app=svc.celery, settings=svc.settings, messages=messages)


@router.post("/jobs/{job_id}/retry", response_model=RetryResult, responses=PROBLEMS)
def retry_job(
    job_id: str,
    background: BackgroundTasks,
    svc: Annotated[Services, Depends(services)],
    tenant: SubmitTenant,
) -> RetryResult:
    """Queue the job's failed and canceled stages again (a failed, canceled or expired job).

    A job that succeeded, or is still queued or running, answers 409.
    """
    with svc.db.session() as session:
        job = get_job(session=session, tenant_id=tenant, job_id=job_id)
        if job is None:
            raise not_found("job", job_id)
        if job.state not in RETRYABLE_JOB_STATES:
            raise ProblemError(
                409,
                "not-retryable",
                "Job cannot be retried",
                f"job {job_id!r} is {job.state}; only failed, canceled or expired jobs are retried",
            )
        outcome = retry_jobs(session=session, job_ids=[job_id])
    # after the commit, as on submission: a worker must find the stages queued
    background.add_task(_send, svc, outcome.messages)
    return RetryResult(id=job_id, retried_jobs=outcome.jobs, retried_stages=outcome.stages)


@router.post("/batches/{batch_id}/retry", response_model=RetryResult, responses=PROBLEMS)
def retry_batch_jobs(
    batch_id: str,
    background: BackgroundTasks,
    svc: Annotated[Services, Depends(services)],
    tenant: SubmitTenant,
) -> RetryResult:
    """Retry every failed, canceled or expired job of the batch (none: counts of 0)."""
    with svc.db.session() as session:
        if get_batch(session=session, tenant_id=tenant, batch_id=batch_id) is None:
            raise not_found("batch", batch_id)
        outcome = retry_batch(session=session, batch_id=batch_id)
    background.add_task(_send, svc, outcome.messages)
    return RetryResult(id=batch_id, retried_jobs=outcome.jobs, retried_stages=outcome.stages)
