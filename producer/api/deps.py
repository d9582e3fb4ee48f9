"""Shared request dependencies: the process-wide services and the authenticated caller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from celery import Celery
from fastapi import Depends, Header, Request

from producer.api.problems import ProblemError
from producer.api.throttle import enforce_rate
from producer.db import Database
from producer.keys import Principal, verify_key
from producer.objectstore import ObjectStore
from producer.settings import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    store: ObjectStore
    celery: Celery
    secret: bytes


def services(request: Request) -> Services:
    return request.app.state.services


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(
        401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"}
    )


def principal(
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
    with svc.db.read_session() as session:
        found = verify_key(session=session, key=key, secret=svc.secret)
    if found is None:
        raise _unauthorized("the API key is unknown or revoked")
    return found


def require(scope: str) -> Callable[[Principal], str]:
    """A dependency giving the caller's tenant id when the key has `scope`."""

    def tenant(
        request: Request,
        svc: Annotated[Services, Depends(services)],
        caller: Annotated[Principal, Depends(principal)],
    ) -> str:
        if not caller.allows(scope):
            raise ProblemError(
                403, "forbidden", "Forbidden", f"this API key lacks the {scope!r} scope"
            )
        enforce_rate(db=svc.db, settings=svc.settings, caller=caller, is_submit=scope != "read")
        request.state.principal = caller  # the key's own limits, for the job quota
        return caller.tenant_id

    return tenant


ReadTenant = Annotated[str, Depends(require("read"))]
SubmitTenant = Annotated[str, Depends(require("submit"))]
