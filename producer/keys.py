"""API keys: created and shown once, stored as HMAC-SHA256 under the server secret, scoped.

A key reads `mq_<id>_<secret>`. The id finds the row; the HMAC of the whole key, compared in
constant time, proves it. Scopes: `submit` (create batches, upload, cancel), `read` (status,
artifacts, provenance, templates), `admin` (everything).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from producer.ids import utcnow
from schemas.tables import ApiKey

SCOPES = ("submit", "read", "admin")
PREFIX = "mq_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant and what the key allows."""

    tenant_id: str
    key_id: str
    scopes: frozenset[str]
    rate_per_s: float | None = None  # None: the settings' default
    max_jobs: int | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


def hash_key(*, key: str, secret: bytes) -> str:
    return hmac.new(secret, key.encode("utf-8"), hashlib.sha256).hexdigest()


def create_key(
    *,
    session: Session,
    tenant_id: str,
    scopes: list[str],
    name: str,
    secret: bytes,
    rate_per_s: float | None = None,
    max_jobs: int | None = None,
) -> tuple[str, str]:
    """Store a new key; return (key id, the key itself — shown once, never stored).

    Args:
        rate_per_s: submissions per second for this key (reads get 10x); None: the default.
        max_jobs: unfinished jobs the tenant may have when submitting with this key.

    Raises:
        ValueError: an unknown scope, an empty tenant, or a limit that is not positive.
    """
    if (rate_per_s is not None and not 0 < rate_per_s < math.inf) or (
        max_jobs is not None and max_jobs < 1
    ):
        raise ValueError("--rate and --max-jobs must be positive")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes must be among {', '.join(SCOPES)}; got {', '.join(scopes)}")
    if not tenant_id.strip() or len(tenant_id) > 64:
        raise ValueError("a tenant id is 1-64 characters")
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    session.add(
        ApiKey(
            id=key_id,
            tenant_id=tenant_id,
            name=name[:128],
            key_hash=hash_key(key=key, secret=secret),
            scopes=sorted(set(scopes)),
            created_at=utcnow(),
            rate_per_s=rate_per_s,
            max_jobs=max_jobs,
        )
    )
    return key_id, key


class VerifiedKeys:
    """Keys verified in the last `ttl_s` seconds, so a poller's key is not looked up every time.

    Only valid keys are remembered (by their sha256, never in clear). Revoking a key therefore
    takes effect on each API replica within `ttl_s` (MEDIAQ_KEY_CACHE_S); 0 turns this off.
    """

    def __init__(self, *, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Principal, float]] = {}

    def get(self, key: str) -> Principal | None:
        if self.ttl_s <= 0:
            return None
        with self._lock:
            entry = self._entries.get(_fingerprint(key))
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, key: str, principal: Principal) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # rare (that many live keys): start again, not a leak
            self._entries[_fingerprint(key)] = (principal, time.monotonic() + self.ttl_s)


def _fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def verify_key(*, session: Session, key: str, secret: bytes) -> Principal | None:
    """The principal of a valid, unrevoked key, else None."""
    parts = key.split("_")
    if len(parts) < 3 or f"{parts[0]}_" != PREFIX:
        return None
    row = session.get(ApiKey, parts[1])
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, hash_key(key=key, secret=secret)):
        return None
    return Principal(row.tenant_id, row.id, frozenset(row.scopes), row.rate_per_s, row.max_jobs)


def list_keys(*, session: Session, tenant_id: str | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at)
    if tenant_id is not None:
        query = query.where(ApiKey.tenant_id == tenant_id)
    return list(session.execute(query).scalars())


def revoke_key(*, session: Session, key_id: str) -> bool:
    return bool(
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        ).rowcount
    )
