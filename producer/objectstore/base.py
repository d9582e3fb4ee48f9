"""Object store interface: artifacts stored once under their sha256, plus JSON sidecars beside them.

Key layout (the same in every backend, below the backend's root or prefix):

    objects/<aa>/<bb>/<sha256>                 the artifact bytes; aa, bb = first two hex pairs
    objects/<aa>/<bb>/<sha256>.<name>.json     a sidecar record about it, e.g. `.provenance.json`

The two fan-out levels keep any one directory (or S3 listing page) small: 65,536 buckets hold a
few hundred million objects before a directory passes a few thousand entries. An object key is
written once and never changes, so "the key exists" means "these exact bytes are stored"; that
is how a re-run stores nothing twice. Sidecars are not content-addressed: a second write replaces.
Storing bytes that are already there refreshes the object's modified time, which garbage
collection (producer/object_gc.py) reads as "still wanted".
"""

from __future__ import annotations

import hashlib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

CHUNK_SIZE_BYTES = 1024 * 1024
MAX_PRESIGN_EXPIRES_S = 7 * 24 * 3600  # the SigV4 ceiling; S3 rejects longer URLs

_DIGEST_RE = re.compile(r"[0-9a-f]{64}")
_SIDECAR_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# type/subtype with optional parameters; no control characters, since the value becomes a header.
_MEDIA_TYPE_RE = re.compile(r"[\w.+-]+/[\w.+-]+(;[ -~]*)?")


class ObjectStoreError(Exception):
    """The store could not be reached or refused a request; retrying later may succeed."""


class ObjectNotFound(LookupError):
    """No object is stored under the digest. Not an ObjectStoreError: retrying will not help."""


@dataclass(frozen=True)
class StoredObject:
    """What a put stored, or found already stored.

    Attributes:
        digest: sha256 of the bytes, 64 lowercase hex characters.
        size_bytes: length of the bytes.
        media_type: the media type given to this put (the database row is the record of it;
            the local backend does not store it, S3 keeps the first writer's as ContentType).
        is_new: False when the bytes were already stored and nothing was written.
        uri: where the bytes live, e.g. `file:///srv/objects/ab/cd/<sha256>` or `s3://bucket/key`.
    """

    digest: str
    size_bytes: int
    media_type: str
    is_new: bool
    uri: str


def validate_digest(digest: str) -> str:
    """Return `digest` unchanged if it is a sha256 hex digest, so it is safe inside a path or key.

    Raises:
        ValueError: not exactly 64 lowercase hex characters (this also rules out `/` and `..`).
    """
    if not isinstance(digest, str) or not _DIGEST_RE.fullmatch(digest):
        shown = repr(digest)[:80]
        raise ValueError(f"digest must be a sha256: 64 lowercase hex characters, got {shown}")
    return digest


def validate_sidecar_name(name: str) -> str:
    """Return `name` unchanged if it is a valid sidecar name such as `provenance`.

    Raises:
        ValueError: not 1-64 characters of `a-z 0-9 _ -` starting with a letter or digit.
    """
    if not isinstance(name, str) or not _SIDECAR_NAME_RE.fullmatch(name):
        raise ValueError(
            f"sidecar name must be 1-64 characters of a-z, 0-9, '_' or '-', got {name!r}"
        )
    return name


def validate_media_type(media_type: str) -> str:
    """Return `media_type` unchanged if it looks like `type/subtype[; params]`.

    Raises:
        ValueError: empty, no `/`, or contains characters that cannot go into an HTTP header.
    """
    if not isinstance(media_type, str) or not _MEDIA_TYPE_RE.fullmatch(media_type):
        raise ValueError(f"media_type must look like 'video/mp4', got {media_type!r}")
    return media_type


def validate_sidecar_json(data: bytes) -> bytes:
    """Return `data` unchanged if it is UTF-8 JSON.

    Raises:
        ValueError: not bytes, or not parseable JSON.
    """
    if not isinstance(data, bytes):
        raise ValueError(f"sidecar data must be bytes of JSON, got {type(data).__name__}")
    try:
        json.loads(data)
    except ValueError as exc:
        raise ValueError(f"sidecar data is not valid JSON: {exc}") from exc
    return data


def object_key(digest: str) -> str:
    """Key of an object relative to the store root: `objects/<aa>/<bb>/<sha256>`."""
    validate_digest(digest)
    return f"objects/{digest[:2]}/{digest[2:4]}/{digest}"


def sidecar_key(*, digest: str, name: str) -> str:
    """Key of a sidecar relative to the store root: `<object key>.<name>.json`."""
    return f"{object_key(digest)}.{validate_sidecar_name(name)}.json"


def is_object_key_name(name: str) -> bool:
    """Whether the last component of a key names an object (not a sidecar or a temp file)."""
    return _DIGEST_RE.fullmatch(name) is not None


@dataclass(frozen=True)
class StoreEntry:
    """One key below objects/: an object (`sidecar` None) or a sidecar of it."""

    digest: str
    sidecar: str | None
    size_bytes: int
    modified_at: datetime


_SIDECAR_KEY_RE = re.compile(r"([0-9a-f]{64})\.([a-z0-9][a-z0-9_-]{0,63})\.json")


def parse_key_name(name: str) -> tuple[str, str | None] | None:
    """(digest, sidecar name or None) for the last component of a key; None for anything else
    (temp files, strays)."""
    if _DIGEST_RE.fullmatch(name):
        return name, None
    match = _SIDECAR_KEY_RE.fullmatch(name)
    return (match.group(1), match.group(2)) if match else None


def iter_file_chunks(path: Path) -> Iterator[bytes]:
    """Yield the bytes of `path` in CHUNK_SIZE_BYTES pieces."""
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_SIZE_BYTES):
            yield chunk


def hash_file(path: Path) -> tuple[str, int]:
    """Return (sha256 hex digest, size in bytes) of a file, read in chunks."""
    sha = hashlib.sha256()
    size_bytes = 0
    for chunk in iter_file_chunks(path):
        sha.update(chunk)
        size_bytes += len(chunk)
    return sha.hexdigest(), size_bytes


class ObjectStore(ABC):
    """Content-addressed storage for artifacts. Implementations are safe to share across threads.

    Every method that takes a digest validates it first and raises ValueError for anything but a
    sha256 hex digest. Store-side failures raise ObjectStoreError (retryable); a missing object
    raises ObjectNotFound.
    """

    @abstractmethod
    def put_file(self, *, path: Path, media_type: str) -> StoredObject:
        """Store the bytes of a file under their sha256, unless they are already stored.

        Args:
            path: a readable local file.
            media_type: e.g. `video/mp4`.

        Returns:
            The StoredObject; `is_new` is False when nothing was written.

        Raises:
            ValueError: bad media type.
            FileNotFoundError: `path` does not exist.
            ObjectStoreError: the store failed.
        """

    @abstractmethod
    def put_bytes(self, *, data: bytes, media_type: str) -> StoredObject:
        """Store `data` under its sha256, unless already stored. Same contract as put_file."""

    @abstractmethod
    def exists(self, digest: str) -> bool:
        """Whether an object is stored under `digest`."""

    @abstractmethod
    def open(self, digest: str) -> BinaryIO:
        """Open the object for reading; the caller closes it (use `with`).

        Raises:
            ObjectNotFound: nothing is stored under `digest`.
        """

    @abstractmethod
    def get_to_path(self, *, digest: str, path: Path) -> None:
        """Copy the object to a local file, replacing it if present.

        Raises:
            ObjectNotFound: nothing is stored under `digest`.
        """

    @abstractmethod
    def local_path(self, digest: str) -> Path | None:
        """The object's file on this machine, or None when the backend has no local files (S3).

        The API uses it to stream the file itself. Never write to the returned path.

        Raises:
            ObjectNotFound: the backend is local and nothing is stored under `digest`.
        """

    @abstractmethod
    def presigned_url(
        self, *, digest: str, expires_s: int, filename: str | None, media_type: str | None
    ) -> str | None:
        """A time-limited GET URL for the object, or None when the backend cannot sign (local).

        The URL is signed without checking that the object exists.

        Args:
            digest: the object.
            expires_s: validity, 1 to 604,800 s (7 days).
            filename: if given, the response says `Content-Disposition: attachment` with it.
            media_type: if given, the response's Content-Type.
        """

    @abstractmethod
    def put_json_sidecar(self, *, digest: str, name: str, data: bytes) -> None:
        """Store a JSON record beside an object (key `<object key>.<name>.json`), replacing any.

        Raises:
            ValueError: bad name, or `data` is not JSON.
            ObjectNotFound: no object is stored under `digest`; a sidecar never comes first.
        """

    @abstractmethod
    def get_sidecar(self, *, digest: str, name: str) -> bytes | None:
        """The sidecar's bytes, or None if there is none."""

    @abstractmethod
    def list_entries(self) -> Iterator[StoreEntry]:
        """Every object and sidecar, in no particular order. Lists the whole store: for
        garbage collection and tests."""

    @abstractmethod
    def modified_at(self, digest: str) -> datetime | None:
        """When the object was last stored (written, or its bytes stored again); None if absent."""

    @abstractmethod
    def delete(self, digest: str) -> None:
        """Remove the object (its sidecars stay); removing a missing object is no error."""

    @abstractmethod
    def count_objects(self) -> int:
        """Number of stored objects, sidecars excluded. Lists everything: for tests only."""

    @abstractmethod
    def check(self) -> None:
        """Return if the store is reachable and writable as far as cheaply known (for /readyz).

        Raises:
            ObjectStoreError: with what is wrong.
        """
