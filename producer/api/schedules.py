"""/v1/schedules: scheduled drops: create, list, read, pause, resume, delete, run now, runs."""

from __future__ import annotations

import hashlib
from functools import partial
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from producer.api.batches import PROBLEMS
from producer.api.deps import ReadTenant, Services, SubmitTenant, services
from producer.api.pagination import parse_cursor
from producer.api.problems import key_reused, not_found
from producer.assets import owns_artifact, resolve_references
from producer.ids import utcnow
from producer.intake import check_spec, invalid
from producer.schedule_runs import Firing, LostClaim, claim_manual, fire
from producer.schedule_sources import fetch_feed
from producer.schedules import (
    create_schedule,
    delete_schedule,
    get_schedule,
    has_webhook_endpoint,
    list_runs,
    list_schedules,
    run_view,
    schedule_view,
    set_paused,
)
from producer.submission import (
    Idempotency,
    IdempotencyConflict,
    find_first_response,
    remember_response,
)
from schemas.api import BatchSpec
from schemas.pipelines import builtin_templates
from schemas.schedules import (
    SchedulePage,
    ScheduleRunPage,
    ScheduleRunView,
    ScheduleSpec,
    ScheduleView,
)
from schemas.tables import ScheduleRun

router = APIRouter(prefix="/v1/schedules", tags=["schedules"])
SOURCES = ("items", "feed", "prefix")
# a body that is not JSON at all is a 400 (FastAPI's parser), a JSON one that is wrong a 422
BODY_PROBLEMS = {**PROBLEMS, 400: PROBLEMS[422]}


@router.post("", status_code=201, response_model=ScheduleView, responses=BODY_PROBLEMS)
def create(
    spec: ScheduleSpec, svc: Annotated[Services, Depends(services)], tenant: SubmitTenant
) -> JSONResponse:
    _check(spec=spec, svc=svc, tenant=tenant)
    with svc.db.session() as session:
        schedule = create_schedule(session=session, tenant_id=tenant, spec=spec, now=utcnow())
        view = schedule_view(schedule)
    return JSONResponse(
        view.model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/v1/schedules/{view.id}"},
    )


def _check(*, spec: ScheduleSpec, svc: Services, tenant: str) -> None:
    """The checks of POST /v1/batches, as far as they can be made before a run."""
    given = [name for name in SOURCES if getattr(spec, name) is not None]
    if len(given) != 1:
        raise invalid(
            f"give exactly one item source of items, feed and prefix (got {len(given)})",
            [{"field": name, "detail": "exactly one of items, feed, prefix"} for name in SOURCES],
        )
    is_plain_http = bool(spec.feed) and urlsplit(spec.feed or "").scheme == "http"
    if is_plain_http and not svc.settings.fetch_allow_private_networks:
        # plain http only with the local-test escape hatch, as for input URLs
        raise invalid("feed must be an https URL", [{"field": "feed", "detail": "not https"}])
    template = builtin_templates().get(spec.template)
    if template is None:
        raise invalid(
            f"unknown template {spec.template!r} (known: {', '.join(sorted(builtin_templates()))})",
            [{"field": "template", "detail": "unknown template"}],
        )
    batch = BatchSpec.model_construct(
        template=spec.template,
        items=spec.items or [],
        priority=spec.priority,
        metadata=spec.metadata,
        params=spec.params,
        engines=spec.engines,
        deadline=None,
    )
    check_spec(spec=batch, template=template, settings=svc.settings)
    with svc.db.read_session() as session:
        errors = resolve_references(
            spec=batch,
            template=template,
            uploaded={},
            is_known_asset=lambda digest: owns_artifact(
                session=session, tenant_id=tenant, digest=digest
            ),
        )
        if spec.webhook_endpoint_id and not has_webhook_endpoint(
            session=session, tenant_id=tenant, endpoint_id=spec.webhook_endpoint_id
        ):
            errors.append({"field": "webhook_endpoint_id", "detail": "no such webhook endpoint"})
    if errors:
        raise invalid(f"{len(errors)} field(s) name nothing usable: {errors[0]['field']}", errors)


@router.get("", response_model=SchedulePage, responses=PROBLEMS)
def get_schedules(
    svc: Annotated[Services, Depends(services)],
    tenant: ReadTenant,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> SchedulePage:
    with svc.db.read_session() as session:
        return list_schedules(
            session=session, tenant_id=tenant, limit=limit, cursor=parse_cursor(cursor)
        )


@router.get("/{schedule_id}", response_model=ScheduleView, responses=PROBLEMS)
def get_one(
    schedule_id: str, svc: Annotated[Services, Depends(services)], tenant: ReadTenant
) -> ScheduleView:
    with svc.db.read_session() as session:
        schedule = get_schedule(session=session, tenant_id=tenant, schedule_id=schedule_id)
        if schedule is None:
            raise not_found("schedule", schedule_id)
        return schedule_view(schedule)


@router.post("/{schedule_id}/pause", response_model=ScheduleView, responses=PROBLEMS)
def pause(
    schedule_id: str, svc: Annotated[Services, Depends(services)], tenant: SubmitTenant
) -> ScheduleView:
    return _set_paused(svc=svc, tenant=tenant, schedule_id=schedule_id, is_paused=True)


@router.post("/{schedule_id}/resume", response_model=ScheduleView, responses=PROBLEMS)
def resume(
    schedule_id: str, svc: Annotated[Services, Depends(services)], tenant: SubmitTenant
) -> ScheduleView:
    return _set_paused(svc=svc, tenant=tenant, schedule_id=schedule_id, is_paused=False)


def _set_paused(*, svc: Services, tenant: str, schedule_id: str, is_paused: bool) -> ScheduleView:
    with svc.db.session() as session:
        schedule = get_schedule(session=session, tenant_id=tenant, schedule_id=schedule_id)
        if schedule is None:
            raise not_found("schedule", schedule_id)
        set_paused(schedule=schedule, is_paused=is_paused, now=utcnow())
        session.flush()
        return schedule_view(schedule)


@router.delete("/{schedule_id}", status_code=204, responses=PROBLEMS)
def delete(
    schedule_id: str, svc: Annotated[Services, Depends(services)], tenant: SubmitTenant
) -> Response:
    with svc.db.session() as session:
        schedule = get_schedule(session=session, tenant_id=tenant, schedule_id=schedule_id)
        if schedule is None:
            raise not_found("schedule", schedule_id)
        delete_schedule(session=session, schedule=schedule)
    return Response(status_code=204)


@router.post(
    "/{schedule_id}/run",
    status_code=202,
    response_model=ScheduleRunView,
    responses=PROBLEMS,
    summary="Run now: submit the schedule's items as a batch (paused or not)",
)
def run_now(
    schedule_id: str,
    svc: Annotated[Services, Depends(services)],
    tenant: SubmitTenant,
    idempotency_key: Annotated[
        str | None, Header(max_length=255, description="A retry with the same key runs nothing")
    ] = None,
) -> JSONResponse:
    now = utcnow()
    idem = Idempotency(idempotency_key, _run_now_digest(schedule_id)) if idempotency_key else None
    try:
        with svc.db.session() as session:
            schedule = get_schedule(session=session, tenant_id=tenant, schedule_id=schedule_id)
            if schedule is None:
                raise not_found("schedule", schedule_id)
            first = _first_run_id(session=session, tenant=tenant, idem=idem)
            if first is None:
                claim = claim_manual(session=session, schedule=schedule, now=now)
                if idem is not None:
                    remember_response(
                        session=session,
                        tenant_id=tenant,
                        idempotency=idem,
                        response={"run_id": claim.run_id},
                        now=now,
                    )
    except IntegrityError:  # a concurrent retry with the same key claimed first
        if idem is None:
            raise
        with svc.db.read_session() as session:
            first = _first_run_id(session=session, tenant=tenant, idem=idem)
        if first is None:
            raise
    if first is not None:
        return _run_response(svc=svc, run_id=first, schedule_id=schedule_id, is_replay=True)
    try:
        run = fire(firing=firing_of(svc), claim=claim, now=now)
    except LostClaim:  # deleted while it ran
        raise not_found("schedule", schedule_id) from None
    return _run_response(svc=svc, run_id=run.id, schedule_id=schedule_id, is_replay=False)


def _run_now_digest(schedule_id: str) -> str:
    """What a run-now request is, for its Idempotency-Key: the schedule it runs."""
    return hashlib.sha256(f"POST /v1/schedules/{schedule_id}/run".encode()).hexdigest()


def _first_run_id(*, session: Session, tenant: str, idem: Idempotency | None) -> str | None:
    if idem is None:
        return None
    try:
        response = find_first_response(session=session, tenant_id=tenant, idempotency=idem)
    except IdempotencyConflict:
        raise key_reused(idem.key) from None
    return None if response is None else response["run_id"]


def _run_response(*, svc: Services, run_id: str, schedule_id: str, is_replay: bool) -> JSONResponse:
    """202 with the run as it is now (a replay may find the first request's run still going)."""
    with svc.db.read_session() as session:
        run = session.get(ScheduleRun, run_id)
        if run is None:  # its schedule was deleted since
            raise not_found("schedule", schedule_id)
        body = run_view(run).model_dump(mode="json")
    headers = {"Location": f"/v1/batches/{run.batch_id}"} if run.batch_id else {}
    if is_replay:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(body, status_code=202, headers=headers)


def firing_of(svc: Services) -> Firing:
    return Firing(
        db=svc.db,
        store=svc.store,
        celery=svc.celery,
        settings=svc.settings,
        fetch=partial(fetch_feed, settings=svc.settings),
    )


@router.get("/{schedule_id}/runs", response_model=ScheduleRunPage, responses=PROBLEMS)
def get_runs(
    schedule_id: str,
    svc: Annotated[Services, Depends(services)],
    tenant: ReadTenant,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> ScheduleRunPage:
    with svc.db.read_session() as session:
        if get_schedule(session=session, tenant_id=tenant, schedule_id=schedule_id) is None:
            raise not_found("schedule", schedule_id)
        return list_runs(
            session=session, schedule_id=schedule_id, limit=limit, cursor=parse_cursor(cursor)
        )
