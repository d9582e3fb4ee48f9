"""Per-API-key request rates and the job quota, answered with 429 and Retry-After."""

from __future__ import annotations

from typing import Any

from producer.api.problems import ProblemError
from producer.db import Database
from producer.keys import Principal
from producer.quota import QuotaExceeded
from producer.ratelimit import LocalBuckets, Rate, retry_after_header, take_token
from producer.settings import Settings

# Retry-After for the job quota: jobs finish at their own pace, so this is a polling hint
QUOTA_RETRY_AFTER_S = 10
READ_TO_SUBMIT_RATE = 10  # a key's --rate sets submissions; its reads get this multiple
_read_buckets = LocalBuckets()  # per process: reads write nothing (producer/ratelimit.py)

TOO_MANY_REQUESTS: dict[str, Any] = {
    "description": "Over the key's request rate or the tenant's job quota",
    "content": {"application/problem+json": {}},
    "headers": {
        "Retry-After": {
            "description": "Seconds to wait before retrying",
            "required": True,
            "schema": {"type": "string"},
        }
    },
}


def request_rate(*, caller: Principal, settings: Settings, is_submit: bool) -> Rate:
    """The caller's bucket: the key's own rate when it has one, else the settings'."""
    if caller.rate_per_s is not None:
        per_s = caller.rate_per_s * (1 if is_submit else READ_TO_SUBMIT_RATE)
        return Rate(per_s=per_s, burst=max(1, round(2 * per_s)))
    if is_submit:
        return Rate(per_s=settings.submit_rate_per_s, burst=settings.submit_burst)
    return Rate(per_s=settings.read_rate_per_s, burst=settings.read_burst)


def enforce_rate(*, db: Database, settings: Settings, caller: Principal, is_submit: bool) -> None:
    """Take a token from the caller's bucket.

    Raises:
        ProblemError: 429 with Retry-After when the bucket is empty.
    """
    rate = request_rate(caller=caller, settings=settings, is_submit=is_submit)
    if rate.is_unlimited:
        return
    kind = "submit" if is_submit else "read"
    bucket = f"{caller.key_id}:{kind}"
    if is_submit:
        with db.session() as session:
            wait_s = take_token(session=session, key=bucket, rate=rate)
    else:
        wait_s = _read_buckets.take(key=bucket, rate=rate)
    if wait_s <= 0:
        return
    setting = "MEDIAQ_SUBMIT_RATE_PER_S" if is_submit else "MEDIAQ_READ_RATE_PER_S"
    raise ProblemError(
        429,
        "rate-limited",
        "Too many requests",
        f"this API key may make {rate.per_s:g} {kind} requests per second (bursts of "
        f"{rate.burst}); retry in {retry_after_header(wait_s)} s. The limit is the key's "
        f"`mediaq keys create --rate` or {setting}.",
        headers={"Retry-After": retry_after_header(wait_s)},
        extra={"limit": f"{kind}_rate", "rate_per_s": rate.per_s, "burst": rate.burst},
    )


def job_quota(*, caller: Principal, settings: Settings) -> int:
    return caller.max_jobs if caller.max_jobs is not None else settings.max_unfinished_jobs


def quota_problem(error: QuotaExceeded) -> ProblemError:
    return ProblemError(
        429,
        "job-quota-exceeded",
        "Too many unfinished jobs",
        f"the tenant has {error.unfinished} unfinished jobs and this batch adds {error.adding}; "
        f"at most {error.max_jobs} may be unfinished at once (the key's `--max-jobs` or "
        "MEDIAQ_MAX_UNFINISHED_JOBS). Nothing was accepted; retry when jobs have finished.",
        headers={"Retry-After": str(QUOTA_RETRY_AFTER_S)},
        extra={
            "limit": "max_unfinished_jobs",
            "unfinished": error.unfinished,
            "adding": error.adding,
            "max_jobs": error.max_jobs,
        },
    )
