"""Content-addressed object storage for artifacts; `open_object_store(url)` picks the backend.

URLs (the OBJECT_STORE_URL setting):

    /srv/mediaq/objects, .mediaq/objects      a local folder (relative: against the working dir)
    file:///srv/mediaq/objects                the same, as a URL
    s3://bucket                               AWS S3, region and credentials from the AWS chain
    s3://bucket/some/prefix?region=eu-west-1  keys below `some/prefix/`
    s3://bucket?endpoint_url=http://127.0.0.1:9000&region=us-east-1
                                              an S3-compatible server (MinIO, moto)

S3 credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
~/.aws, an instance or pod role). `access_key=...&secret_key=...` in the query also work; they are
meant for tests and local MinIO, since a URL ends up in logs and process listings.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from producer.objectstore.base import (
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    StoredObject,
)
from producer.objectstore.local import LocalObjectStore

__all__ = [
    "LocalObjectStore",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectStoreError",
    "StoredObject",
    "open_object_store",
]

_S3_QUERY_KEYS = frozenset({"endpoint_url", "region", "access_key", "secret_key"})


def open_object_store(url: str) -> ObjectStore:
    """Build the object store a URL names (see the module docstring for the forms).

    Args:
        url: a plain path, a `file:///` URL or an `s3://` URL.

    Returns:
        A LocalObjectStore (its folder created if missing) or an S3ObjectStore (nothing contacted
        yet: call `check()` to find out whether it is reachable).

    Raises:
        ValueError: empty URL, unknown scheme, or a malformed file or s3 URL.
    """
    if not url:
        raise ValueError(
            "object store URL is empty: use a folder path, file:///path or s3://bucket"
        )
    if "://" not in url:
        return LocalObjectStore(Path(url))
    parts = urlsplit(url)
    if parts.scheme == "file":
        return _open_file_url(parts)
    if parts.scheme == "s3":
        return _open_s3_url(parts)
    raise ValueError(
        f"unsupported object store URL scheme {parts.scheme!r}: "
        "use a folder path, file:///abs/path or s3://bucket/prefix"
    )


def _open_file_url(parts: SplitResult) -> ObjectStore:
    if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
        raise ValueError(
            "a file object store URL is file:///abs/path (three slashes, no host, no query), "
            f"got host {parts.netloc!r}"
        )
    return LocalObjectStore(Path(unquote(parts.path)))


def _open_s3_url(parts: SplitResult) -> ObjectStore:
    # boto3 is imported here, not at the top, so the local (embedded) mode never pays for it.
    from producer.objectstore.s3 import S3ObjectStore

    if not parts.netloc or "@" in parts.netloc or parts.fragment:
        raise ValueError(
            "an S3 object store URL is s3://bucket/prefix?endpoint_url=...&region=... "
            "(credentials go in access_key/secret_key query parameters or the AWS chain)"
        )
    options = _parse_s3_query(parts.query)
    return S3ObjectStore(
        parts.netloc,
        prefix=unquote(parts.path),
        endpoint_url=options.get("endpoint_url"),
        region=options.get("region"),
        access_key=options.get("access_key"),
        secret_key=options.get("secret_key"),
    )


def _parse_s3_query(query: str) -> dict[str, str]:
    """Query parameters of an s3:// URL as S3ObjectStore keyword arguments; typos are errors."""
    values = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(values) - _S3_QUERY_KEYS)
    if unknown:
        raise ValueError(
            f"unknown s3 object store URL parameter(s) {unknown}; known: {sorted(_S3_QUERY_KEYS)}"
        )
    repeated = sorted(k for k, v in values.items() if len(v) > 1)
    if repeated:
        raise ValueError(f"s3 object store URL parameter(s) {repeated} given more than once")
    empty = sorted(k for k, v in values.items() if not v[0])
    if empty:
        raise ValueError(f"s3 object store URL parameter(s) {empty} are empty")
    return {k: v[0] for k, v in values.items()}
