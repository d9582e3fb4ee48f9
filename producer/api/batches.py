"""/v1/batches: submit, list, read and cancel batches."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from producer.api.deps import ReadTenant, Services, SubmitTenant, services
from producer.api.pagination import parse_cursor
from producer.api.problems import ProblemError, key_reused, not_found
from producer.api.responses import json_body, json_response
from producer.api.throttle import TOO_MANY_REQUESTS, job_quota, quota_problem
from producer.assets import (
    is_storable_media_type,
    owns_artifact,
    record_uploads,
    resolve_references,
    store_upload,
)
from producer.crud import cancel_batch
from producer.dispatch import StageMessage, send_stage_runs
from producer.intake import (
    check_spec,
    file_kind,
    invalid,
    parse_items,
    parse_json_spec,
    spec_digest,
)
from producer.queries import batch_view, get_batch, list_batches
from producer.quota import QuotaExceeded, check_job_quota
from producer.revoke import revocable_stage_run_ids, revoke_stage_runs
from producer.submission import (
    Accepted,
    Idempotency,
    IdempotencyConflict,
    create_batch,
    find_replay,
)
from producer.upload_limits import check_upload_limits
from schemas.api import BatchAccepted, BatchPage, BatchSpec, BatchView, CancelResult, Problem
from schemas.pipelines import builtin_templates
from schemas.states import JobState

router = APIRouter(prefix="/v1/batches", tags=["batches"])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (401, 403, 404, 409, 413, 422, 503)
}
PROBLEMS[429] = TOO_MANY_REQUESTS
# a body the API cannot read: a malformed multipart body (400), another media type (415)
UPLOAD_PROBLEMS = {**PROBLEMS, 400: PROBLEMS[422], 415: PROBLEMS[422]}
_UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            # inlined: no route declares BatchSpec as a model, so FastAPI never adds it to
            # components and a $ref to it would dangle
            "application/json": {"schema": BatchSpec.model_json_schema()},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "template"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "template": {"type": "string"},
                        "priority": {"type": "integer", "minimum": 0, "maximum": 9},
                        "metadata": {"type": "string", "description": "JSON object"},
                        "params": {"type": "string", "description": "JSON object"},
                        "engines": {"type": "string", "description": "JSON object"},
                        "assets": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "input files the items name by path (photos)",
                        },
                    },
                }
            },
        },
    }
}


@router.post(
    "",
    status_code=202,
    response_model=BatchAccepted,
    responses=UPLOAD_PROBLEMS,
    openapi_extra=_UPLOAD_DOC,
    summary="Submit a batch (JSON body, or a JSONL/CSV file as body or multipart upload)",
)
async def submit_batch(
    request: Request,
    background: BackgroundTasks,
    svc: Annotated[Services, Depends(services)],
    tenant: SubmitTenant,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
    template: Annotated[str | None, Query(description="For raw JSONL/CSV bodies")] = None,
    priority: Annotated[int, Query(ge=0, le=9, description="For raw JSONL/CSV bodies")] = 5,
) -> JSONResponse:
    spec, uploads = await _read_spec(request, template=template, priority=priority)
    # validation and the transaction are blocking work: keep them off the event loop so
    # status reads stay fast while a large batch is accepted
    accepted = await run_in_threadpool(
        _validate_and_accept,
        svc=svc,
        tenant=tenant,
        spec=spec,
        uploads=uploads,
        idempotency_key=idempotency_key,
        max_jobs=job_quota(caller=request.state.principal, settings=svc.settings),
    )
    if accepted.messages:
        background.add_task(_dispatch, svc, accepted.messages)
    headers = {"Location": accepted.response.status_url}
    if accepted.is_replay:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(accepted.response.model_dump(mode="json"), status_code=202, headers=headers)


def _validate_and_accept(
    *,
    svc: Services,
    tenant: str,
    spec: BatchSpec,
    uploads: list[UploadedFile],
    idempotency_key: str | None,
    max_jobs: int,
) -> Accepted:
    pipeline = builtin_templates().get(spec.template)
    if pipeline is None:
        raise invalid(
            f"unknown template {spec.template!r} (known: {', '.join(sorted(builtin_templates()))})",
            [{"field": "template", "detail": "unknown template"}],
        )
    check_spec(spec=spec, template=pipeline, settings=svc.settings)
    _resolve_assets(svc=svc, tenant=tenant, spec=spec, template=pipeline, uploads=uploads)
    idem = Idempotency(idempotency_key, spec_digest(spec)) if idempotency_key else None
    return _accept(
        svc=svc, tenant=tenant, spec=spec, pipeline=pipeline, idem=idem, max_jobs=max_jobs
    )


def _accept(
    *,
    svc: Services,
    tenant: str,
    spec: BatchSpec,
    pipeline: Any,
    idem: Idempotency | None,
    max_jobs: int,
) -> Accepted:
    try:
        with svc.db.session() as session:
            # a replay is answered even when the tenant is at its quota now
            is_replay = idem is not None and (
                find_replay(session=session, tenant_id=tenant, idempotency=idem) is not None
            )
            if not is_replay:
                check_job_quota(
                    session=session, tenant_id=tenant, max_jobs=max_jobs, adding=len(spec.items)
                )
            return create_batch(
                session=session, tenant_id=tenant, spec=spec, template=pipeline, idempotency=idem
            )
    except IdempotencyConflict:
        raise key_reused(idem.key) from None
    except QuotaExceeded as error:
        raise quota_problem(error) from None
    except IntegrityError:
        # a concurrent retry with the same key committed first: answer with its response
        if idem is None:
            raise
        with svc.db.read_session() as session:
            try:
                replay = find_replay(session=session, tenant_id=tenant, idempotency=idem)
            except IdempotencyConflict:
                raise key_reused(idem.key) from None
        if replay is None:
            raise
        return Accepted(response=replay, messages=[], is_replay=True)


def _resolve_assets(
    *, svc: Services, tenant: str, spec: BatchSpec, template: Any, uploads: list[UploadedFile]
) -> None:
    for upload in uploads:  # every file checked before any is stored
        check_upload_limits(data=upload.data, name=upload.name, settings=svc.settings)
    stored = {
        upload.name: store_upload(store=svc.store, data=upload.data, media_type=upload.media_type)
        for upload in uploads
    }
    with svc.db.session() as session:
        record_uploads(session=session, tenant_id=tenant, stored=list(stored.values()))
    with svc.db.read_session() as session:
        errors = resolve_references(
            spec=spec,
            template=template,
            uploaded={name: obj.digest for name, obj in stored.items()},
            is_known_asset=lambda digest: owns_artifact(
                session=session, tenant_id=tenant, digest=digest
            ),
        )
    if errors:
        raise invalid(f"{len(errors)} input file reference(s) name nothing usable", errors)


# a batch this large changes the tables enough to mislead the planner (Database docstring)
ANALYZE_AFTER_ITEMS = 1000


def _dispatch(svc: Services, messages: list[StageMessage]) -> None:
    send_stage_runs(app=svc.celery, settings=svc.settings, messages=messages)
    if len(messages) >= ANALYZE_AFTER_ITEMS:
        svc.db.refresh_planner_stats("job", "stage_run")


@dataclass(frozen=True)
class UploadedFile:
    name: str
    data: bytes
    media_type: str


async def _read_spec(
    request: Request, *, template: str | None, priority: int
) -> tuple[BatchSpec, list[UploadedFile]]:
    content_type = request.headers.get("content-type", "application/json")
    if content_type.startswith("multipart/form-data"):
        return await _read_multipart(request)
    body = await request.body()
    kind = file_kind(content_type=content_type, filename=None)
    if kind is None:
        if not content_type.startswith("application/json"):
            raise ProblemError(
                415,
                "unsupported-media-type",
                "Unsupported media type",
                f"send application/json, application/x-ndjson, text/csv or multipart/form-data, "
                f"not {content_type!r}",
            )
        return await run_in_threadpool(parse_json_spec, body), []
    if not template:
        raise invalid(
            "a JSONL or CSV body needs ?template=", [{"field": "template", "detail": "required"}]
        )
    items = await run_in_threadpool(lambda: parse_items(data=body, kind=kind))
    spec = _spec(
        template=template, items=items, priority=priority, metadata={}, params={}, engines={}
    )
    return spec, []


async def _read_multipart(request: Request) -> tuple[BatchSpec, list[UploadedFile]]:
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise invalid(
            "multipart upload needs a 'file' part", [{"field": "file", "detail": "required"}]
        )
    kind = file_kind(content_type=upload.content_type or "", filename=upload.filename)
    if kind is None:
        raise invalid(
            "the file must be JSONL (.jsonl) or CSV (.csv)",
            [{"field": "file", "detail": "unknown type"}],
        )
    data = await upload.read()
    items = await run_in_threadpool(lambda: parse_items(data=data, kind=kind))
    template = form.get("template")
    if not isinstance(template, str) or not template:
        raise invalid(
            "multipart upload needs a 'template' field",
            [{"field": "template", "detail": "required"}],
        )
    spec = _spec(
        template=template,
        items=items,
        priority=_form_int(form.get("priority"), default=5),
        metadata=_form_json(form.get("metadata"), field="metadata"),
        params=_form_json(form.get("params"), field="params"),
        engines=_form_json(form.get("engines"), field="engines"),
    )
    uploads = [
        UploadedFile(
            part.filename or "", await part.read(), part.content_type or "application/octet-stream"
        )
        for part in form.getlist("assets")
        if isinstance(part, UploadFile)
    ]
    unstorable = [u for u in uploads if not is_storable_media_type(u.media_type)]
    if unstorable:
        raise invalid(
            f"asset {unstorable[0].name[:120]!r} has a Content-Type that is not like 'image/jpeg'",
            [
                {
                    "field": "assets",
                    "detail": f"{u.name[:120]!r}: Content-Type {u.media_type[:120]!r}",
                }
                for u in unstorable
            ],
        )
    return spec, uploads


def _spec(**fields: Any) -> BatchSpec:
    try:
        body = json.dumps(fields).encode("utf-8")
    except RecursionError:  # an uploaded value that json.loads took but that nests too deeply
        raise invalid(
            "a value in the upload is nested too deeply", [{"field": "body", "detail": "too deep"}]
        ) from None
    return parse_json_spec(body)


def _form_int(value: Any, *, default: int) -> Any:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(
            "priority must be an integer 0-9", [{"field": "priority", "detail": "not an integer"}]
        ) from None


def _form_json(value: Any, *, field: str) -> Any:
    if value in (None, ""):
        return {}
    try:
        return json.loads(value)
    except (TypeError, ValueError, RecursionError):  # also: too deep, or a 4300+ digit number
        raise invalid(
            f"{field} must be a JSON object", [{"field": field, "detail": "not JSON"}]
        ) from None


@router.get("", response_model=BatchPage, responses=PROBLEMS)
def get_batches(
    svc: Annotated[Services, Depends(services)],
    tenant: ReadTenant,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> BatchPage:
    with svc.db.read_session() as session:
        return list_batches(
            session=session, tenant_id=tenant, limit=limit, cursor=parse_cursor(cursor)
        )


@router.get("/{batch_id}", response_model=BatchView, responses=PROBLEMS)
def get_batch_view(
    batch_id: str,
    svc: Annotated[Services, Depends(services)],
    tenant: ReadTenant,
    # bounded: a larger OFFSET overflows the database's 64-bit integer (a 500, not a page)
    jobs_offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    jobs_limit: Annotated[int, Query(ge=0, le=1000)] = 100,
    state: Annotated[JobState | None, Query(description="List only jobs in this state")] = None,
    # no NUL: PostgreSQL refuses it in a query parameter
    custom_id: Annotated[
        str | None,
        Query(
            max_length=256,
            pattern=r"^[^\x00]*$",
            description="List only jobs whose custom_id contains this text (any case)",
        ),
    ] = None,
) -> Response:
    # dashboards poll the same page together: while the tenant's event log has not moved,
    # the page has not changed, and this replica answers with the bytes it sent before
    page = (tenant, batch_id, jobs_offset, jobs_limit, state, custom_id)
    with svc.db.read_session() as session:
        version = svc.batch_pages.version(session=session, tenant_id=tenant)
        body = svc.batch_pages.get(page, version=version)
        if body is None:
            view = batch_view(
                session=session,
                tenant_id=tenant,
                batch_id=batch_id,
                jobs_offset=jobs_offset,
                jobs_limit=jobs_limit,
                job_state=state,
                custom_id=custom_id,
                recent_counts=svc.recent_counts,
                version=version,
            )
            if view is None:
                raise not_found("batch", batch_id)
            body = json_body(view)
            svc.batch_pages.put(page, body, version=version)
    return json_response(body)


@router.post("/{batch_id}/cancel", response_model=CancelResult, responses=PROBLEMS)
def cancel(
    batch_id: str,
    svc: Annotated[Services, Depends(services)],
    tenant: SubmitTenant,
) -> CancelResult:
    with svc.db.session() as session:
        if get_batch(session=session, tenant_id=tenant, batch_id=batch_id) is None:
            raise not_found("batch", batch_id)
        to_revoke = revocable_stage_run_ids(session=session, batch_id=batch_id)
        jobs, stages = cancel_batch(session=session, batch_id=batch_id)
    revoke_stage_runs(app=svc.celery, settings=svc.settings, stage_run_ids=to_revoke)
    return CancelResult(id=batch_id, canceled_jobs=jobs, canceled_stages=stages)
