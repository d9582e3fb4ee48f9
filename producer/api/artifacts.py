"""/v1/artifacts: a stored file (streamed, or a presigned S3 redirect) and its provenance."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, RedirectResponse, Response

from producer.api.batches import PROBLEMS
from producer.api.deps import ReadTenant, Services, services
from producer.api.problems import ProblemError, not_found
from schemas.provenance import ProvenanceRecord
from schemas.tables import Artifact, ArtifactOwner, Provenance

router = APIRouter(prefix="/v1/artifacts", tags=["artifacts"])

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_EXTENSIONS = {"audio/wav": "wav", "application/json": "json", "video/mp4": "mp4"}


def _check_digest(digest: str) -> None:
    if not _DIGEST.match(digest):
        raise ProblemError(
            422,
            "validation-error",
            "Invalid request",
            "digest must be 64 lowercase hex characters (sha256)",
            errors=[{"field": "digest", "detail": "not a sha256 hex digest"}],
        )


def _artifact(svc: Services, tenant: str, digest: str) -> Artifact:
    _check_digest(digest)
    with svc.db.read_session() as session:
        artifact = session.get(Artifact, digest)
        is_owner = session.get(ArtifactOwner, (tenant, digest)) is not None
    # another tenant's artifact answers exactly like a missing one
    if artifact is None or not is_owner:
        raise not_found("artifact", digest)
    return artifact


@router.get(
    "/{digest}",
    responses={
        **PROBLEMS,
        # the file, with the media type it was stored with (video/mp4, audio/wav, image/jpeg...)
        200: {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
        307: {},
    },
    response_class=Response,
)
def get_artifact(
    digest: str,
    svc: Annotated[Services, Depends(services)],
    tenant: ReadTenant,
) -> Any:
    artifact = _artifact(svc, tenant, digest)
    filename = f"{digest[:16]}.{_EXTENSIONS.get(artifact.media_type, 'bin')}"
    path = svc.store.local_path(digest)
    if path is not None:
        return FileResponse(path, media_type=artifact.media_type, filename=filename)
    url = svc.store.presigned_url(
        digest=digest,
        expires_s=svc.settings.presign_expires_s,
        filename=filename,
        media_type=artifact.media_type,
    )
    if url is None:
        raise not_found("artifact", digest)
    return RedirectResponse(url, status_code=307)


@router.get("/{digest}/provenance", response_model=ProvenanceRecord, responses=PROBLEMS)
def get_provenance(
    digest: str,
    svc: Annotated[Services, Depends(services)],
    tenant: ReadTenant,
) -> ProvenanceRecord:
    _check_digest(digest)
    with svc.db.read_session() as session:
        row = session.get(Provenance, (digest, tenant))
    if row is None:
        raise not_found("artifact", digest)
    return ProvenanceRecord.model_validate(row.record)
