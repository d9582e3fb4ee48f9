"""Shared request dependencies: the process-wide services and the authenticated caller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from celery import Celery
from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from producer.api.problems import ProblemError
from producer.api.throttle import enforce_rate
from producer.db import Database
from producer.keys import Principal, VerifiedKeys, verify_key
from producer.objectstore import ObjectStore
from producer.queries import RecentCounts, TenantVersioned
from producer.settings import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    store: ObjectStore
    celery: Celery
    secret: bytes
    verified_keys: VerifiedKeys = field(default_factory=lambda: VerifiedKeys(ttl_s=5.0))
    recent_counts: RecentCounts = field(default_factory=RecentCounts)
    # serialised batch pages (GET /v1/batches/{id} with its query), about 15 KB per 100 jobs
    batch_pages: TenantVersioned = field(default_factory=lambda: TenantVersioned(max_entries=2000))


# The dependencies are `async def` and do their I/O in the thread pool only when they must:
# each sync dependency would cost a thread-pool hop on every request, status polls included.


async def services(request: Request) -> Services:
    return request.app.state.services


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(
        401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def principal(
    svc: Annotated[Services, Depends(services)],
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    """The caller behind `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    key = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    if not key:
        raise _unauthorized("send an API key: Authorization: Bearer <key> (mediaq keys create)")
    found = svc.verified_keys.get(key)
    if found is None:
        found = await run_in_threadpool(_verify, svc, key)
    if found is None:
        raise _unauthorized("the API key is unknown or revoked")
    return found


def _verify(svc: Services, key: str) -> Principal | None:
    with svc.db.read_session() as session:
        found = verify_key(session=session, key=key, secret=svc.secret)
    if found is not None:
        svc.verified_keys.put(key, found)
    return found


def require(scope: str) -> Callable[[Principal], str]:
    """A dependency giving the caller's tenant id when the key has `scope`."""

    async def tenant(
        request: Request,
        svc: Annotated[Services, Depends(services)],
        caller: Annotated[Principal, Depends(principal)],
    ) -> str:
        if not caller.allows(scope):
            raise ProblemError(
                403, "forbidden", "Forbidden", f"this API key lacks the {scope!r} scope"
            )
        if scope == "read":  # an in-memory bucket: no I/O
            enforce_rate(db=svc.db, settings=svc.settings, caller=caller, is_submit=False)
        else:  # the shared bucket is a database row
            await run_in_threadpool(
                enforce_rate, db=svc.db, settings=svc.settings, caller=caller, is_submit=True
            )
        request.state.principal = caller  # the key's own limits, for the job quota
        return caller.tenant_id

    return tenant


ReadTenant = Annotated[str, Depends(require("read"))]
SubmitTenant = Annotated[str, Depends(require("submit"))]
