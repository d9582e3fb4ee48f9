"""The inbox: JSONL/CSV files that people drop under `inbox/<tenant>/` for scheduled drops.

Unlike the content-addressed `objects/` area these keys are named by people (with `aws s3 cp`,
or by copying into the local store's folder), so they are read by name, newest content each time.
Only `.jsonl`, `.ndjson` and `.csv` files are read, and only below the tenant's own folder.
"""

from __future__ import annotations

from pathlib import Path

from producer.objectstore.base import ObjectStore, ObjectStoreError
from producer.objectstore.local import LocalObjectStore
from producer.objectstore.s3 import S3ObjectStore

SUFFIXES = (".jsonl", ".ndjson", ".csv")
MAX_FILES = 1000


def inbox_prefix(*, tenant_id: str, prefix: str) -> str:
    """The key prefix of a tenant's folder, e.g. `inbox/acme/drops/`."""
    parts = [part for part in prefix.split("/") if part]
    if any(part in (".", "..") for part in parts) or "/" in tenant_id or tenant_id in ("", ".."):
        raise ValueError(f"prefix {prefix!r} leaves the tenant's inbox")
    return "/".join(["inbox", tenant_id, *parts]) + "/"


def list_inbox(store: ObjectStore, *, tenant_id: str, prefix: str) -> list[str]:
    """Keys of the JSONL/CSV files below the prefix, sorted, at most MAX_FILES.

    Raises:
        ObjectStoreError: the store failed, or the backend has no inbox.
    """
    base = inbox_prefix(tenant_id=tenant_id, prefix=prefix)
    if isinstance(store, LocalObjectStore):
        keys = _list_local(store.root, base)
    elif isinstance(store, S3ObjectStore):
        keys = _list_s3(store, base)
    else:
        raise ObjectStoreError(f"{store!r} has no inbox")
    return sorted(key for key in keys if key.lower().endswith(SUFFIXES))[:MAX_FILES]


def read_inbox(store: ObjectStore, *, key: str, max_bytes: int) -> bytes:
    """The bytes of one inbox file.

    Raises:
        ObjectStoreError: the store failed, or the file is larger than `max_bytes`.
    """
    if isinstance(store, LocalObjectStore):
        path = store.root / key
        try:
            if path.stat().st_size > max_bytes:
                raise ObjectStoreError(f"{key} is larger than {max_bytes} bytes")
            return path.read_bytes()
        except OSError as error:
            raise ObjectStoreError(f"reading {key}: {error}") from error
    if isinstance(store, S3ObjectStore):
        return _read_s3(store, key, max_bytes=max_bytes)
    raise ObjectStoreError(f"{store!r} has no inbox")


def _list_local(root: Path, base: str) -> list[str]:
    folder = root / base
    if not folder.is_dir():
        return []
    # no symlinks: a link could point outside the tenant's folder
    return [
        path.relative_to(root).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and not path.is_symlink()
    ]


def _list_s3(store: S3ObjectStore, base: str) -> list[str]:
    keys: list[str] = []
    with store._s3_errors("listing", store.prefix + base):
        paginator = store._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=store.bucket, Prefix=store.prefix + base):
            keys.extend(obj["Key"][len(store.prefix) :] for obj in page.get("Contents", []))
            if len(keys) > MAX_FILES * 10:
                break
    return keys


def _read_s3(store: S3ObjectStore, key: str, *, max_bytes: int) -> bytes:
    with store._s3_errors("reading", store.prefix + key):
        response = store._client.get_object(Bucket=store.bucket, Key=store.prefix + key)
        if int(response.get("ContentLength", 0)) > max_bytes:
            raise ObjectStoreError(f"{key} is larger than {max_bytes} bytes")
        data: bytes = response["Body"].read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ObjectStoreError(f"{key} is larger than {max_bytes} bytes")
    return data
