"""Input files (product photos) uploaded with a batch, and item references to them.

An item names a photo by a path that was uploaded beside the batch file ("images/mug.jpg"),
by "asset:<sha256>" of a file uploaded earlier (POST /v1/assets), or by an https URL that a
worker fetches. Paths are rewritten to "asset:<sha256>" at submission, so a job never depends on
a client's file system.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.orm import Session

from producer.crud import insert_ignoring_duplicates
from producer.ids import utcnow
from producer.lifecycle import ASSET_PREFIX, foreach_elements
from producer.objectstore import ObjectStore, StoredObject
from producer.objectstore.base import validate_media_type
from schemas.api import BatchSpec
from schemas.pipeline import PipelineTemplate
from schemas.tables import Artifact, ArtifactOwner

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
MAX_MEDIA_TYPE_CHARS = 128  # the artifact.media_type column


def is_storable_media_type(media_type: str) -> bool:
    """Whether a client's Content-Type for an upload can be stored with it (type/subtype)."""
    try:
        validate_media_type(media_type)
    except ValueError:
        return False
    return len(media_type) <= MAX_MEDIA_TYPE_CHARS


def store_upload(*, store: ObjectStore, data: bytes, media_type: str) -> StoredObject:
    """Put an uploaded file into the object store."""
    with tempfile.NamedTemporaryFile() as handle:
        handle.write(data)
        handle.flush()
        return store.put_file(path=Path(handle.name), media_type=media_type)


def record_uploads(*, session: Session, tenant_id: str, stored: list[StoredObject]) -> None:
    """Artifact rows and the tenant's ownership of uploaded files (first writer wins)."""
    now = utcnow()
    artifacts = [
        {
            "digest": s.digest,
            "media_type": s.media_type,
            "size_bytes": s.size_bytes,
            "duration_s": None,
            "uri": s.uri,
            "created_at": now,
        }
        for s in stored
    ]
    owners = [{"tenant_id": tenant_id, "digest": s.digest, "created_at": now} for s in stored]
    insert_ignoring_duplicates(session=session, table=Artifact.__table__, rows=artifacts)
    insert_ignoring_duplicates(session=session, table=ArtifactOwner.__table__, rows=owners)


def owns_artifact(*, session: Session, tenant_id: str, digest: str) -> bool:
    return session.get(ArtifactOwner, (tenant_id, digest)) is not None


def resolve_references(
    *,
    spec: BatchSpec,
    template: PipelineTemplate,
    uploaded: Mapping[str, str],
    is_known_asset: Callable[[str], bool],
) -> list[dict[str, Any]]:
    """Rewrite each fan-out element to "asset:<digest>" or keep an https URL.

    Args:
        uploaded: file name as sent -> digest, for files uploaded with this request.
        is_known_asset: whether "asset:<digest>" names a stored asset.

    Returns:
        Problem entries for elements that name nothing usable (the spec is left as is then).
    """
    fields = {node.foreach for node in template.stages if node.foreach}
    by_basename = _unique_basenames(uploaded)
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(spec.items):
        for field in sorted(fields):
            resolved = []
            for element in foreach_elements(item.get(field)):
                ref = _resolve(str(element), uploaded, by_basename, is_known_asset)
                if ref is None:
                    errors.append(_problem(index, field, str(element)))
                resolved.append(ref)
            if field in item and None not in resolved:
                item[field] = resolved
    return errors


def _unique_basenames(uploaded: Mapping[str, str]) -> dict[str, str]:
    names: dict[str, list[str]] = {}
    for name, digest in uploaded.items():
        names.setdefault(PurePosixPath(name).name, []).append(digest)
    return {name: digests[0] for name, digests in names.items() if len(set(digests)) == 1}


def _resolve(
    element: str,
    uploaded: Mapping[str, str],
    by_basename: Mapping[str, str],
    is_known_asset: Callable[[str], bool],
) -> str | None:
    if element.startswith("https://"):
        return element
    if element.startswith(ASSET_PREFIX):
        digest = element.removeprefix(ASSET_PREFIX)
        return element if _DIGEST.match(digest) and is_known_asset(digest) else None
    digest = uploaded.get(element) or by_basename.get(PurePosixPath(element).name)
    return f"{ASSET_PREFIX}{digest}" if digest else None


def _problem(index: int, field: str, element: str) -> dict[str, Any]:
    return {
        "field": f"items[{index}].{field}",
        "detail": f"{element[:120]!r} is not a file uploaded with the batch (multipart 'assets'), "
        "an asset:<sha256> from POST /v1/assets, or an https URL",
    }
