"""/healthz (the process answers) and /readyz (database, broker and object store reachable)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from producer.api.deps import Services, services
from producer.api.problems import problem_response

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


class Readiness(BaseModel):
    status: str = Field(description='"ready"')
    checks: dict[str, str] = Field(description='dependency -> "ok" or the error')


class NotReady(BaseModel):
    """RFC 9457 problem details, plus which dependencies are down."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    down: list[str] = Field(description="database, broker and/or object_store")
    checks: dict[str, str] = Field(description='dependency -> "ok" or the error')


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        503: {
            "model": NotReady,
            "description": "A dependency is down",
            "content": {"application/problem+json": {}},
        }
    },
)
def readyz(svc: Annotated[Services, Depends(services)]) -> JSONResponse:
    checks = {
        "database": _check(lambda: _ping_database(svc)),
        "broker": _check(lambda: _ping_broker(svc)),
        "object_store": _check(svc.store.check),
    }
    down = [name for name, value in checks.items() if value != "ok"]
    if not down:
        return JSONResponse({"status": "ready", "checks": checks})
    return problem_response(
        status=503,
        type_="not-ready",
        title="Not ready",
        detail=f"unavailable: {', '.join(down)} ({checks[down[0]]})",
        instance="/readyz",
        headers={"Retry-After": "5"},
        extra={"down": down, "checks": checks},
    )


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
