"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemError(Exception):
    """Raise to answer with a problem document.

    Args:
        status: HTTP status code.
        type_: a short slug; the document's `type` is "/problems/<slug>".
        title: a fixed summary of the problem type.
        detail: what went wrong this time, naming the field or reason.
        errors: per-field entries {"field": "items[3].language", "detail": "..."}.
        extra: RFC 9457 extension members, e.g. the limit that was hit and its numbers.
    """

    def __init__(
        self,
        status: int,
        type_: str,
        title: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.type_, self.title, self.detail = status, type_, title, detail
        self.errors, self.headers, self.extra = errors, headers, extra


def problem_response(
    *,
    status: int,
    type_: str,
    title: str,
    detail: str,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        **(extra or {}),
        "type": f"/problems/{type_}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def not_found(what: str, identifier: str) -> ProblemError:
    return ProblemError(404, "not-found", "Not found", f"no {what} with id {identifier!r}")


def key_reused(key: str) -> ProblemError:
    return ProblemError(
        422,
        "idempotency-key-reused",
        "Idempotency-Key reused",
        f"Idempotency-Key {key!r} was used before with a different request",
        errors=[{"field": "Idempotency-Key", "detail": "used before with another request"}],
    )


def _loc_to_field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    field = ""
    for part in parts:
        field += f"[{part}]" if part.isdigit() else (f".{part}" if field else part)
    return field or "body"


def validation_errors(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic error entries as {"field": "items[2].custom_id", "detail": "..."}."""
    return [{"field": _loc_to_field(tuple(e["loc"])), "detail": e["msg"]} for e in raw]


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            status=exc.status,
            type_=exc.type_,
            title=exc.title,
            detail=exc.detail,
            instance=request.url.path,
            errors=exc.errors,
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(list(exc.errors()))
        return problem_response(
            status=422,
            type_="validation-error",
            title="Invalid request",
            detail="; ".join(f"{e['field']}: {e['detail']}" for e in errors[:5]),
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(
            status=exc.status_code,
            type_=slug,
            title=str(exc.detail),
            detail=str(exc.detail),
            instance=request.url.path,
        )

    @app.exception_handler(OperationalError)
    async def _database_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return problem_response(
            status=503,
            type_="database-unavailable",
            title="Service unavailable",
            detail="the database is not reachable; retry with the same Idempotency-Key",
            instance=request.url.path,
            headers={"Retry-After": "5"},
        )
