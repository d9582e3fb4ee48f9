"""Garbage collection of the object store: objects nothing refers to, stored long ago.

A stage publishes its outputs before the transaction that records them commits, so a run
killed in between (or one whose commit failed) leaves objects no artifact row names. They are
invisible and harmless, but they cost storage forever. An object is kept when any of these holds:

- an `artifact` row names its digest (outputs, uploads, fetched inputs);
- it has a sidecar, or a sidecar of an object no artifact row names mentions its digest (the
  TensorRT plan cache keeps its plans that way: workers/engines/neural/plan_cache.py);
- it was stored within the grace period (default two days, far longer than any stage); storing
  bytes that are already there refreshes the modified time, so a run about to record an old
  orphan as its output keeps it alive.

Just before deleting, the collector reads the object's modified time and the artifact table
again, so an object stored or recorded since the listing stays.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from producer.db import Database
from producer.ids import as_utc, utcnow
from producer.objectstore import ObjectStore
from producer.objectstore.base import StoreEntry
from schemas.tables import Artifact

log = logging.getLogger(__name__)

DEFAULT_GRACE = timedelta(days=2)
CHECK_CHUNK = 500
_DIGEST_RE = re.compile(r"\b[0-9a-f]{64}\b")


@dataclass
class GcReport:
    """What one collection saw and did; `deleted`: the digests deleted (in a dry run, the ones
    that would be)."""

    objects: int = 0
    kept_recorded: int = 0
    kept_referenced: int = 0
    kept_recent: int = 0
    deleted: list[str] = field(default_factory=list)
    deleted_bytes: int = 0

    def summary(self, *, dry_run: bool) -> str:
        verb = "would delete" if dry_run else "deleted"
        return (
            f"{self.objects} objects: {self.kept_recorded} recorded, "
            f"{self.kept_referenced} referenced by sidecars, {self.kept_recent} stored recently; "
            f"{verb} {len(self.deleted)} ({self.deleted_bytes / 1e6:.1f} MB)"
        )


def collect_garbage(
    *,
    db: Database,
    store: ObjectStore,
    grace: timedelta = DEFAULT_GRACE,
    dry_run: bool = False,
    now: datetime | None = None,
) -> GcReport:
    """Delete (or with `dry_run`, only list) the unreferenced objects older than `grace`."""
    cutoff = (now or utcnow()) - grace
    report = GcReport()
    objects: dict[str, StoreEntry] = {}
    sidecars: dict[str, list[str]] = {}
    for entry in store.list_entries():
        if entry.sidecar is None:
            objects[entry.digest] = entry
        else:
            sidecars.setdefault(entry.digest, []).append(entry.sidecar)
    report.objects = len(objects)
    unrecorded = set(objects) - _recorded(db, objects)
    report.kept_recorded = len(objects) - len(unrecorded)
    referenced = set(sidecars) | _named_by_sidecars(store, sidecars, only=unrecorded)
    candidates = []
    for digest in sorted(unrecorded):
        if digest in referenced:
            report.kept_referenced += 1
        elif as_utc(objects[digest].modified_at) > cutoff:  # type: ignore[operator]
            report.kept_recent += 1
        else:
            candidates.append(objects[digest])
    for chunk in _chunks(candidates, CHECK_CHUNK):
        for entry in _still_garbage(db, store, chunk, cutoff=cutoff):
            if not dry_run:
                store.delete(entry.digest)
            report.deleted.append(entry.digest)
            report.deleted_bytes += entry.size_bytes
    log.info("object gc: %s", report.summary(dry_run=dry_run))
    return report


def _recorded(db: Database, digests: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(list(digests), CHECK_CHUNK):
        with db.read_session() as session:
            found.update(
                session.execute(select(Artifact.digest).where(Artifact.digest.in_(chunk))).scalars()
            )
    return found


def _named_by_sidecars(
    store: ObjectStore, sidecars: dict[str, list[str]], *, only: set[str]
) -> set[str]:
    """Digests written inside the sidecars of unrecorded objects (a recorded object's sidecars
    describe it, e.g. its provenance, and name only recorded inputs)."""
    named: set[str] = set()
    for digest in only & set(sidecars):
        for name in sidecars[digest]:
            raw = store.get_sidecar(digest=digest, name=name)
            if raw is not None:
                named.update(_digests_in(json.loads(raw)))
    return named


def _digests_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from _DIGEST_RE.findall(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _digests_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _digests_in(item)


def _still_garbage(
    db: Database, store: ObjectStore, entries: list[StoreEntry], *, cutoff: datetime
) -> Iterator[StoreEntry]:
    """The entries still unrecorded and not stored again since the listing."""
    recorded = _recorded(db, (entry.digest for entry in entries))
    for entry in entries:
        if entry.digest in recorded:
            continue
        modified_at = store.modified_at(entry.digest)
        if modified_at is not None and as_utc(modified_at) <= cutoff:  # type: ignore[operator]
            yield entry


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
