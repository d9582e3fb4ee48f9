"""Per-API-key token buckets: submissions in the database, reads in each replica's memory.

Submissions draw from one bucket that every API replica shares: one `rate_bucket` row. Taking
a token is a single conditional UPDATE that refills the bucket for the time passed and takes one
token only if one is there; the database serializes concurrent takers on the row (PostgreSQL row
lock, SQLite write lock), so two replicas can never both spend the last token.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from producer.crud import insert_ignoring_duplicates
from schemas.tables import RateBucket


@dataclass(frozen=True)
class Rate:
    """`per_s` tokens a second, at most `burst` saved up; per_s <= 0 means unlimited."""

    per_s: float
    burst: int

    @property
    def is_unlimited(self) -> bool:
        return self.per_s <= 0


def take_token(*, session: Session, key: str, rate: Rate, now_s: float | None = None) -> float:
    """Take one token from bucket `key`.

    Args:
        key: the bucket's name, e.g. "<api key id>:submit".
        rate: its refill rate and capacity.
        now_s: epoch seconds (tests pass their own clock).

    Returns:
        0.0 when a token was taken, else the seconds until one will be there.
    """
    if rate.is_unlimited:
        return 0.0
    now_s = time.time() if now_s is None else now_s
    capacity = float(max(rate.burst, 1))
    refilled = RateBucket.tokens + (now_s - RateBucket.updated_s) * rate.per_s
    level = case((refilled > capacity, capacity), else_=refilled)
    taken = session.execute(
        update(RateBucket)
        .where(RateBucket.key == key, level >= 1.0)
        .values(tokens=level - 1.0, updated_s=now_s)
    ).rowcount
    if taken:
        return 0.0
    row = session.execute(
        select(RateBucket.tokens, RateBucket.updated_s).where(RateBucket.key == key)
    ).one_or_none()
    if row is None:  # the key's first request: a full bucket, minus this one
        row_values = {"key": key, "tokens": capacity - 1.0, "updated_s": now_s}
        insert_ignoring_duplicates(session=session, table=RateBucket.__table__, rows=[row_values])
        return 0.0
    tokens = min(capacity, row.tokens + (now_s - row.updated_s) * rate.per_s)
    return max((1.0 - tokens) / rate.per_s, 0.001)


class LocalBuckets:
    """Token buckets in this process's memory, for reads.

    A read must stay a read: a database write per status poll would serialise pollers behind
    writers (SQLite) and cost a commit each. The price is that each API replica keeps its own
    buckets, so N replicas allow N times the rate in all.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, monotonic time)

    def take(self, *, key: str, rate: Rate, now_s: float | None = None) -> float:
        """Like take_token: 0.0 when a token was taken, else the seconds until one is there."""
        if rate.is_unlimited:
            return 0.0
        now_s = time.monotonic() if now_s is None else now_s
        capacity = float(max(rate.burst, 1))
        with self._lock:
            tokens, then = self._buckets.get(key, (capacity, now_s))
            tokens = min(capacity, tokens + (now_s - then) * rate.per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now_s)
                return 0.0
            self._buckets[key] = (tokens, now_s)
        return max((1.0 - tokens) / rate.per_s, 0.001)


def retry_after_header(wait_s: float) -> str:
    """Retry-After is whole seconds; round up so a client that obeys it finds a token."""
    return str(max(1, math.ceil(wait_s)))
