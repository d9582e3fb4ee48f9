"""Local-folder object store: the embedded default, and what the API streams files from.

Layout below `root`: `objects/...` as described in base.py, and `tmp/` for writes in progress.
A write goes to a temp file in `tmp/` (same filesystem, so the final step is a rename, not a copy),
is fsynced, and is then hard-linked into place. `os.link` fails if the key already exists, so of
several processes writing the same digest exactly one reports `is_new=True`, and a reader never sees
a half-written object. Temp files of a crashed writer stay in `tmp/` and can be deleted at any time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from producer.objectstore.base import (
    CHUNK_SIZE_BYTES,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    StoredObject,
    StoreEntry,
    is_object_key_name,
    object_key,
    parse_key_name,
    sidecar_key,
    validate_digest,
    validate_media_type,
    validate_sidecar_json,
)


@contextmanager
def _store_errors(action: str, root: Path) -> Iterator[None]:
    """Turn OSErrors on the store side (disk full, permissions) into ObjectStoreError."""
    try:
        yield
    except OSError as exc:
        raise ObjectStoreError(f"local object store {root}: {action} failed: {exc}") from exc


class LocalObjectStore(ObjectStore):
    """Objects as files below `root`, which is created if missing.

    Args:
        root: the store's folder. Relative paths are resolved against the working directory now.

    Raises:
        ObjectStoreError: `root` cannot be created.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self._objects_dir = self.root / "objects"
        self._tmp_dir = self.root / "tmp"
        with _store_errors("creating the folders", self.root):
            self._objects_dir.mkdir(parents=True, exist_ok=True)
            self._tmp_dir.mkdir(exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalObjectStore({str(self.root)!r})"

    def _path(self, digest: str) -> Path:
        return self.root / object_key(digest)

    def _write_temp(self, chunks: Iterable[bytes]) -> tuple[Path, str, int]:
        """Write chunks to a durable temp file; return (temp path, sha256, size in bytes)."""
        with _store_errors("writing a temp file", self.root):
            fd, name = tempfile.mkstemp(dir=self._tmp_dir, prefix="put-")
        tmp_path = Path(name)
        sha = hashlib.sha256()
        size_bytes = 0
        try:
            with _store_errors("writing a temp file", self.root), os.fdopen(fd, "wb") as f:
                for chunk in chunks:
                    f.write(chunk)
                    sha.update(chunk)
                    size_bytes += len(chunk)
                # fsync before linking: after a crash, a key must never name a short file,
                # since "the key exists" is taken to mean "these bytes are stored".
                f.flush()
                os.fsync(f.fileno())
                os.chmod(tmp_path, 0o644)  # mkstemp makes 0600; the API may run as another user
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
        return tmp_path, sha.hexdigest(), size_bytes

    def _publish(self, *, tmp_path: Path, final_path: Path) -> bool:
        """Move a temp file to its key unless the key exists. Returns whether it was new."""
        try:
            with _store_errors("publishing an object", self.root):
                final_path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(tmp_path, final_path)  # atomic create-if-absent
                    return True
                except FileExistsError:
                    _touch(final_path)
                    return False
                except OSError:
                    # Filesystems without hard links: replace is still atomic, but two racing
                    # writers may both report is_new. The bytes are identical, so nothing breaks.
                    if final_path.exists():
                        _touch(final_path)
                        return False
                    os.replace(tmp_path, final_path)
                    return True
        finally:
            tmp_path.unlink(missing_ok=True)

    def _stored(
        self, *, digest: str, size_bytes: int, media_type: str, is_new: bool
    ) -> StoredObject:
        uri = self._path(digest).as_uri()
        return StoredObject(digest, size_bytes, media_type, is_new, uri)

    def put_file(self, *, path: Path, media_type: str) -> StoredObject:
        validate_media_type(media_type)
        with Path(path).open("rb") as src:  # opened first: a missing source is the caller's error
            chunks = iter(lambda: src.read(CHUNK_SIZE_BYTES), b"")
            tmp_path, digest, size_bytes = self._write_temp(chunks)
        is_new = self._publish(tmp_path=tmp_path, final_path=self._path(digest))
        return self._stored(
            digest=digest, size_bytes=size_bytes, media_type=media_type, is_new=is_new
        )

    def put_bytes(self, *, data: bytes, media_type: str) -> StoredObject:
        validate_media_type(media_type)
        digest = hashlib.sha256(data).hexdigest()
        is_new = False
        if self.exists(digest):
            _touch(self._path(digest))
        else:
            tmp_path, _, _ = self._write_temp([data])
            is_new = self._publish(tmp_path=tmp_path, final_path=self._path(digest))
        return self._stored(
            digest=digest, size_bytes=len(data), media_type=media_type, is_new=is_new
        )

    def exists(self, digest: str) -> bool:
        return self._path(digest).is_file()

    def open(self, digest: str) -> BinaryIO:
        try:
            return self._path(digest).open("rb")
        except FileNotFoundError:
            raise ObjectNotFound(f"no object {digest} in {self.root}") from None

    def get_to_path(self, *, digest: str, path: Path) -> None:
        shutil.copyfile(self.local_path(digest), path)

    def local_path(self, digest: str) -> Path:
        object_path = self._path(digest)
        if not object_path.is_file():
            raise ObjectNotFound(f"no object {digest} in {self.root}")
        return object_path

    def presigned_url(
        self, *, digest: str, expires_s: int, filename: str | None, media_type: str | None
    ) -> str | None:
        validate_digest(digest)
        return None

    def put_json_sidecar(self, *, digest: str, name: str, data: bytes) -> None:
        final_path = self.root / sidecar_key(digest=digest, name=name)
        validate_sidecar_json(data)
        if not self.exists(digest):
            raise ObjectNotFound(
                f"no object {digest} in {self.root} to put sidecar {name!r} beside"
            )
        tmp_path, _, _ = self._write_temp([data])
        with _store_errors("publishing a sidecar", self.root):
            os.replace(tmp_path, final_path)  # atomic overwrite: readers see old or new, whole

    def get_sidecar(self, *, digest: str, name: str) -> bytes | None:
        try:
            return (self.root / sidecar_key(digest=digest, name=name)).read_bytes()
        except FileNotFoundError:
            return None

    def list_entries(self) -> Iterator[StoreEntry]:
        with _store_errors("listing objects", self.root):
            for path in self._objects_dir.glob("*/*/*"):
                parsed = parse_key_name(path.name)
                if parsed is None:
                    continue
                try:
                    stat = path.stat()
                except FileNotFoundError:  # deleted while listing
                    continue
                yield StoreEntry(parsed[0], parsed[1], stat.st_size, _mtime(stat.st_mtime))

    def modified_at(self, digest: str) -> datetime | None:
        try:
            return _mtime(self._path(digest).stat().st_mtime)
        except FileNotFoundError:
            return None

    def delete(self, digest: str) -> None:
        with _store_errors("deleting an object", self.root):
            self._path(digest).unlink(missing_ok=True)

    def count_objects(self) -> int:
        return sum(1 for p in self._objects_dir.glob("*/*/*") if is_object_key_name(p.name))

    def check(self) -> None:
        if not self._objects_dir.is_dir() or not os.access(self._tmp_dir, os.W_OK):
            raise ObjectStoreError(
                f"local object store {self.root} is not a writable folder with objects/ and tmp/"
            )


def _touch(path: Path) -> None:
    """Mark an object as stored again now (garbage collection keeps recently stored ones).

    Best effort: another user's file (an API and workers running as different users) cannot be
    touched, and the store still holds the bytes.
    """
    with suppress(PermissionError):
        os.utime(path)


def _mtime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)
