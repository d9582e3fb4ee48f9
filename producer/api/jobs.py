"""/v1/jobs: one job with every stage, and cancellation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from producer.api.batches import PROBLEMS
from producer.api.deps import ReadTenant, Services, SubmitTenant, services
from producer.api.problems import not_found
from producer.api.responses import json_response
from producer.crud import cancel_jobs
from producer.queries import get_job, job_view
from producer.revoke import revocable_stage_run_ids, revoke_stage_runs
from schemas.api import CancelResult, JobView

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobView, responses=PROBLEMS)
def get_job_view(
    job_id: str,
    svc: Annotated[Services, Depends(services)],
    tenant: ReadTenant,
) -> Response:
    with svc.db.read_session() as session:
        view = job_view(session=session, tenant_id=tenant, job_id=job_id)
    if view is None:
        raise not_found("job", job_id)
    return json_response(view)


@router.post("/{job_id}/cancel", response_model=CancelResult, responses=PROBLEMS)
def cancel_job(
    job_id: str,
    svc: Annotated[Services, Depends(services)],
    tenant: SubmitTenant,
) -> CancelResult:
    with svc.db.session() as session:
        if get_job(session=session, tenant_id=tenant, job_id=job_id) is None:
            raise not_found("job", job_id)
        to_revoke = revocable_stage_run_ids(session=session, job_ids=[job_id])
        jobs, stages = cancel_jobs(session=session, job_ids=[job_id])
    revoke_stage_runs(app=svc.celery, settings=svc.settings, stage_run_ids=to_revoke)
    return CancelResult(id=job_id, canceled_jobs=jobs, canceled_stages=stages)
