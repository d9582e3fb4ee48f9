"""/healthz (the process answers) and /readyz (database, broker and object store reachable)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text

from producer.api.deps import Services, services

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(svc: Annotated[Services, Depends(services)]) -> JSONResponse:
    checks = {
        "database": _check(lambda: _ping_database(svc)),
        "broker": _check(lambda: _ping_broker(svc)),
        "object_store": _check(svc.store.check),
    }
    is_ready = all(value == "ok" for value in checks.values())
    body: dict[str, Any] = {"status": "ready" if is_ready else "unavailable", "checks": checks}
    if is_ready:
        return JSONResponse(body)
    body.update(type="/problems/not-ready", title="Not ready", detail=str(checks))
    return JSONResponse(body, status_code=503, media_type="application/problem+json")


def _check(probe: Any) -> str:
    try:
        probe()
    except Exception as error:  # report, don't raise: this endpoint exists to say what is down
        return f"error: {type(error).__name__}: {error}"[:300]
    return "ok"


def _ping_database(svc: Services) -> None:
    with svc.db.read_session() as session:
        session.execute(text("SELECT 1"))


def _ping_broker(svc: Services) -> None:
    with svc.celery.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)
