"""/v1/events: live job and batch events as Server-Sent Events, read from the event log.

The stream polls the event table (one indexed query on (tenant_id, id) per poll), so it works
behind any number of API replicas, on SQLite and PostgreSQL, and holds no database connection
between polls. Each message is `id: <event id>`, `event: <type>`, `data: <json>`; a client
resumes with `Last-Event-ID` (or `?after=`) and gets exactly the later events.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from producer.api.batches import PROBLEMS
from producer.api.deps import ReadTenant, Services, services
from producer.db import Database
from schemas.tables import Event

router = APIRouter(prefix="/v1/events", tags=["events"])

PAGE = 500  # events per poll; a backlog is read in pages without waiting between them
MAX_EVENT_ID = 2**63 - 1


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"


_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An endless text/event-stream: `id: <event id>`, `event: <type>`, "
        "`data: <json>` per message, a `: ping` comment after 15 s without one.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "",
    response_class=EventStreamResponse,
    responses={**{code: PROBLEMS[code] for code in (401, 403, 422, 503)}, **_STREAM_DOC},
    summary="Live events of the caller's batches and jobs (Server-Sent Events)",
)
async def stream_events(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    tenant: ReadTenant,
    batch_id: Annotated[str | None, Query(max_length=64, description="Only this batch")] = None,
    job_id: Annotated[str | None, Query(max_length=64, description="Only this job")] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_EVENT_ID, description="Resume after this event id")
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(pattern=r"^[0-9]{1,18}$", description="Resume after this event id (SSE)"),
    ] = None,
) -> EventStreamResponse:
    """Events from now on, or from after the given id; filtered by batch or job when asked."""
    if last_event_id is not None:
        cursor = int(last_event_id)
    elif after is not None:
        cursor = after
    else:
        cursor = await run_in_threadpool(latest_event_id, svc.db)
    stream = _stream(
        request,
        db=svc.db,
        tenant_id=tenant,
        cursor=cursor,
        filters={"batch_id": batch_id, "job_id": job_id},
        poll_s=svc.settings.events_poll_s,
        ping_s=svc.settings.events_ping_s,
    )
    # no-transform and X-Accel-Buffering: proxies (nginx) must pass each message on at once
    headers = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}
    return EventStreamResponse(stream, headers=headers)


def latest_event_id(db: Database) -> int:
    with db.read_session() as session:
        return session.execute(select(func.max(Event.id))).scalar_one_or_none() or 0


def read_events(db: Database, *, tenant_id: str, cursor: int) -> list[Any]:
    """The tenant's events after `cursor`, oldest first, at most one page."""
    with db.read_session() as session:
        return list(
            session.execute(
                select(Event.id, Event.type, Event.batch_id, Event.job_id, Event.data)
                .where(Event.tenant_id == tenant_id, Event.id > cursor)
                .order_by(Event.id)
                .limit(PAGE)
            ).all()
        )


def format_message(row: Any) -> str:
    data = json.dumps(row.data, separators=(",", ":"), ensure_ascii=False)
    return f"id: {row.id}\nevent: {row.type}\ndata: {data}\n\n"


async def _stream(
    request: Request,
    *,
    db: Database,
    tenant_id: str,
    cursor: int,
    filters: dict[str, str | None],
    poll_s: float,
    ping_s: float,
) -> AsyncIterator[str]:
    wanted = {name: value for name, value in filters.items() if value is not None}
    last_sent = time.monotonic()
    while not await request.is_disconnected():
        rows = await run_in_threadpool(read_events, db, tenant_id=tenant_id, cursor=cursor)
        if rows:
            cursor = rows[-1].id  # past filtered-out events too: they are never read again
        chunk = "".join(
            format_message(row)
            for row in rows
            if all(getattr(row, name) == value for name, value in wanted.items())
        )
        if chunk:
            yield chunk
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent >= ping_s:
            yield ": ping\n\n"
            last_sent = time.monotonic()
        if len(rows) < PAGE:
            await asyncio.sleep(poll_s)
