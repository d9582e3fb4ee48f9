"""/v1/assets: upload an input file once and name it in items as "asset:<sha256>"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from producer.api.batches import PROBLEMS
from producer.api.deps import Services, SubmitTenant, services
from producer.api.problems import ProblemError
from producer.assets import (
    MAX_MEDIA_TYPE_CHARS,
    is_storable_media_type,
    record_uploads,
    store_upload,
)
from producer.upload_limits import check_upload_limits


class AssetStored(BaseModel):
    digest: str
    ref: str
    size_bytes: int


router = APIRouter(prefix="/v1/assets", tags=["assets"])


@router.post(
    "",
    status_code=201,
    response_model=AssetStored,
    responses={**PROBLEMS, 415: PROBLEMS[422]},  # 415: a Content-Type that is not type/subtype
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload_asset(
    request: Request, svc: Annotated[Services, Depends(services)], tenant: SubmitTenant
) -> AssetStored:
    """The raw request body is the file; its Content-Type is kept for reference only."""
    data = await request.body()
    if not data:
        raise ProblemError(
            422,
            "validation-error",
            "Invalid request",
            "the body is empty",
            errors=[{"field": "body", "detail": "empty"}],
        )
    media_type = request.headers.get("content-type", "application/octet-stream").split(";")[0]
    media_type = media_type.strip()
    if not is_storable_media_type(media_type):
        raise ProblemError(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"Content-Type must look like 'image/jpeg' (at most {MAX_MEDIA_TYPE_CHARS} "
            f"characters), not {media_type[:200]!r}",
        )
    await run_in_threadpool(
        lambda: check_upload_limits(data=data, name="body", settings=svc.settings)
    )
    stored = await run_in_threadpool(
        lambda: store_upload(store=svc.store, data=data, media_type=media_type)
    )
    with svc.db.session() as session:
        record_uploads(session=session, tenant_id=tenant, stored=[stored])
    return AssetStored(digest=stored.digest, ref=f"asset:{stored.digest}", size_bytes=len(data))
