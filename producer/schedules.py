"""Schedules: create, read, pause, resume and delete them, and read their runs (tenant-scoped)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from producer.ids import as_utc, new_id
from producer.queries import keyset_page
from schemas.cron import load_zone, next_fire, parse_cron
from schemas.schedules import (
    MissedRunPolicy,
    RunOutcome,
    RunTrigger,
    SchedulePage,
    ScheduleRunPage,
    ScheduleRunView,
    ScheduleSpec,
    ScheduleView,
)
from schemas.tables import Schedule, ScheduleRun, WebhookEndpoint


def next_run_after(schedule: Schedule, *, after: datetime) -> datetime | None:
    return next_fire(parse_cron(schedule.cron), load_zone(schedule.timezone), after=after)


def source_of(spec: ScheduleSpec) -> dict[str, object]:
    if spec.items is not None:
        return {"items": spec.items}
    if spec.feed is not None:
        return {"feed": spec.feed}
    return {"prefix": spec.prefix}


def create_schedule(
    *, session: Session, tenant_id: str, spec: ScheduleSpec, now: datetime
) -> Schedule:
    """Insert the schedule; its first run is the first cron instant after `now`."""
    offset = spec.deadline_offset
    schedule = Schedule(
        id=new_id(),
        tenant_id=tenant_id,
        name=spec.name,
        cron=spec.cron,
        timezone=spec.timezone,
        template=spec.template,
        source=source_of(spec),
        priority=spec.priority,
        params=spec.params,
        engines=spec.engines,
        meta=spec.metadata,
        deadline_offset_s=offset.total_seconds() if offset is not None else None,
        missed_runs=spec.missed_runs.value,
        webhook_endpoint_id=spec.webhook_endpoint_id,
        is_paused=False,
        created_at=now,
        updated_at=now,
    )
    schedule.next_run_at = next_run_after(schedule, after=now)
    session.add(schedule)
    return schedule


def get_schedule(*, session: Session, tenant_id: str, schedule_id: str) -> Schedule | None:
    if "\x00" in schedule_id:  # no such id, and PostgreSQL refuses NUL in a query parameter
        return None
    return session.execute(
        select(Schedule).where(Schedule.id == schedule_id, Schedule.tenant_id == tenant_id)
    ).scalar_one_or_none()


def has_webhook_endpoint(*, session: Session, tenant_id: str, endpoint_id: str) -> bool:
    """Whether the tenant has this (not deleted) webhook endpoint."""
    if "\x00" in endpoint_id:
        return False
    found = session.execute(
        select(WebhookEndpoint.id).where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.tenant_id == tenant_id,
            WebhookEndpoint.deleted_at.is_(None),
        )
    ).first()
    return found is not None


def set_paused(*, schedule: Schedule, is_paused: bool, now: datetime) -> None:
    """Pause, or resume from now on: runs that fell due while paused are not missed runs."""
    if schedule.is_paused == is_paused:
        return
    schedule.is_paused = is_paused
    schedule.updated_at = now
    if not is_paused:
        schedule.next_run_at = next_run_after(schedule, after=now)


def delete_schedule(*, session: Session, schedule: Schedule) -> None:
    """Delete the schedule; its runs and item digests go with it (ON DELETE CASCADE).

    The batches it made stay: they belong to the tenant, not to the schedule.
    """
    session.delete(schedule)


def schedule_view(schedule: Schedule) -> ScheduleView:
    source = schedule.source
    items = source.get("items")
    return ScheduleView(
        id=schedule.id,
        name=schedule.name,
        cron=schedule.cron,
        timezone=schedule.timezone,
        template=schedule.template,
        source=next(iter(source)),
        item_count=len(items) if isinstance(items, list) else None,
        feed=source.get("feed"),
        prefix=source.get("prefix"),
        priority=schedule.priority,
        metadata=schedule.meta,
        params=schedule.params,
        engines=schedule.engines,
        deadline_offset_s=schedule.deadline_offset_s,
        missed_runs=MissedRunPolicy(schedule.missed_runs),
        webhook_endpoint_id=schedule.webhook_endpoint_id,
        is_paused=schedule.is_paused,
        next_run_at=as_utc(schedule.next_run_at),
        created_at=as_utc(schedule.created_at),  # type: ignore[arg-type]
        updated_at=as_utc(schedule.updated_at),  # type: ignore[arg-type]
    )


def run_view(run: ScheduleRun) -> ScheduleRunView:
    return ScheduleRunView(
        id=run.id,
        schedule_id=run.schedule_id,
        scheduled_for=as_utc(run.scheduled_for),  # type: ignore[arg-type]
        trigger=RunTrigger(run.trigger),
        outcome=RunOutcome(run.outcome),
        fired_at=as_utc(run.fired_at),
        batch_id=run.batch_id,
        item_count=run.item_count,
        missed_runs=run.missed_runs,
        error=run.error,
    )


def list_schedules(
    *, session: Session, tenant_id: str, limit: int, cursor: tuple[datetime, str] | None
) -> SchedulePage:
    """Newest first, keyset-paginated on (created_at, id) like GET /v1/batches."""
    rows, next_cursor = keyset_page(
        session=session,
        query=select(Schedule).where(Schedule.tenant_id == tenant_id),
        order=(Schedule.created_at, Schedule.id),
        limit=limit,
        cursor=cursor,
    )
    return SchedulePage(schedules=[schedule_view(row) for row in rows], next_cursor=next_cursor)


def list_runs(
    *, session: Session, schedule_id: str, limit: int, cursor: tuple[datetime, str] | None
) -> ScheduleRunPage:
    """Latest scheduled time first, keyset-paginated on (scheduled_for, id)."""
    rows, next_cursor = keyset_page(
        session=session,
        query=select(ScheduleRun).where(ScheduleRun.schedule_id == schedule_id),
        order=(ScheduleRun.scheduled_for, ScheduleRun.id),
        limit=limit,
        cursor=cursor,
    )
    return ScheduleRunPage(runs=[run_view(row) for row in rows], next_cursor=next_cursor)
