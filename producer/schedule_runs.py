"""Firing schedules exactly once, however many schedulers run against the same database.

A due schedule is taken in two steps, each one transaction:

1. Claim: advance `schedule.next_run_at` with a compare-and-set (UPDATE ... WHERE next_run_at =
   the value read) and insert the run records. Only one scheduler's update matches; the unique
   (schedule_id, scheduled_for) of the run record refuses any second claim of the same time.
2. Fire: read the items (a feed fetch happens here, outside any transaction), then create the
   batch through the same functions as POST /v1/batches and mark the run `created` in one
   transaction, guarded by the claim token. A scheduler that died after step 1 leaves a run
   `claimed`; after MEDIAQ_LEASE_S another scheduler takes it over with a new token, and the
   token check makes sure only one of them ever commits a batch for it.

Missed runs (the scheduler was down for longer than MEDIAQ_SCHEDULE_GRACE_S past a run time)
follow the schedule's policy: `skip` records them as one skipped_missed run and fires the next
on time; `catch_up_once` fires one run now for the whole missed window.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import Celery
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from producer.api.problems import ProblemError
from producer.assets import owns_artifact, resolve_references
from producer.db import Database
from producer.dispatch import send_stage_runs
from producer.events import event_row, record_events
from producer.ids import as_utc, new_id
from producer.intake import check_spec
from producer.objectstore import ObjectStore
from producer.quota import QuotaExceeded, check_job_quota
from producer.schedule_sources import (
    FeedFetcher,
    SourceError,
    collect_items,
    item_digest,
    new_or_changed,
)
from producer.settings import Settings
from producer.submission import create_batch
from schemas.api import BatchSpec
from schemas.cron import fire_window, load_zone, next_fire, parse_cron
from schemas.events import EventType
from schemas.pipelines import builtin_templates
from schemas.schedules import MissedRunPolicy, RunOutcome, RunTrigger
from schemas.tables import Schedule, ScheduleItemDigest, ScheduleRun

log = logging.getLogger(__name__)
TICK_LIMIT = 100  # schedules claimed per tick; the rest wait for the next tick


@dataclass(frozen=True)
class Claim:
    run_id: str
    token: str


@dataclass(frozen=True)
class RunPlan:
    """What one claim of a due schedule records: at most a skip record and a run to fire."""

    next_run_at: datetime | None
    missed_first: datetime | None
    missed_count: int
    fire_at: datetime | None
    fire_covers: int  # missed scheduled times the fired run stands for (catch_up_once)


def plan_runs(
    *, cron: str, timezone: str, due: datetime, now: datetime, grace_s: float, policy: str
) -> RunPlan:
    """Pure: which runs to record for a schedule whose next run `due` is at or before `now`."""
    schedule, zone = parse_cron(cron), load_zone(timezone)
    window = fire_window(schedule, zone, after=due - timedelta(microseconds=1), until=now)
    next_run_at = next_fire(schedule, zone, after=now)
    last = window.last or due
    is_on_time = (now - last).total_seconds() <= grace_s
    missed = window.count - (1 if is_on_time else 0)
    if policy == MissedRunPolicy.CATCH_UP_ONCE.value:
        return RunPlan(next_run_at, None, 0, last, missed)
    return RunPlan(
        next_run_at=next_run_at,
        missed_first=(window.first or due) if missed else None,
        missed_count=missed,
        fire_at=last if is_on_time else None,
        fire_covers=0,
    )


def claim_due(*, db: Database, now: datetime, settings: Settings) -> list[Claim]:
    """Claim every due schedule (up to TICK_LIMIT); returns the runs this caller must fire."""
    with db.read_session() as session:
        due = session.execute(
            select(Schedule.id, Schedule.next_run_at)
            .where(Schedule.is_paused.is_(False), Schedule.next_run_at <= now)
            .order_by(Schedule.next_run_at)
            .limit(TICK_LIMIT)
        ).all()
    claims: list[Claim] = []
    for schedule_id, next_run_at in due:
        try:
            claim = _claim_one(
                db=db, schedule_id=schedule_id, seen=next_run_at, now=now, settings=settings
            )
        except IntegrityError:  # another scheduler recorded the same time first
            claim = None
        if claim is not None:
            claims.append(claim)
    return claims


def _claim_one(
    *, db: Database, schedule_id: str, seen: datetime, now: datetime, settings: Settings
) -> Claim | None:
    with db.session() as session:
        schedule = session.get(Schedule, schedule_id)
        if schedule is None:
            return None
        plan = plan_runs(
            cron=schedule.cron,
            timezone=schedule.timezone,
            due=as_utc(seen),  # type: ignore[arg-type]
            now=now,
            grace_s=settings.schedule_grace_s,
            policy=schedule.missed_runs,
        )
        advanced = session.execute(
            update(Schedule)
            .where(
                Schedule.id == schedule_id,
                Schedule.next_run_at == seen,
                Schedule.is_paused.is_(False),
            )
            .values(next_run_at=plan.next_run_at)
            .execution_options(synchronize_session=False)
        )
        if advanced.rowcount != 1:
            return None  # another scheduler advanced it first, or it was paused meanwhile
        if plan.missed_count and plan.missed_first is not None:
            missed = _insert_run(
                session,
                schedule=schedule,
                scheduled_for=plan.missed_first,
                now=now,
                outcome=RunOutcome.SKIPPED_MISSED,
                missed_runs=plan.missed_count,
            )
            missed_run = session.get(ScheduleRun, missed.run_id)
            assert missed_run is not None
            _record_run_event(session, schedule=schedule, run=missed_run)
        if plan.fire_at is None:
            return None
        return _insert_run(
            session,
            schedule=schedule,
            scheduled_for=plan.fire_at,
            now=now,
            outcome=RunOutcome.CLAIMED,
            missed_runs=plan.fire_covers,
        )


def claim_manual(*, session: Session, schedule: Schedule, now: datetime) -> Claim:
    """A run-now claim for the API; scheduled_for is the request time."""
    return _insert_run(
        session,
        schedule=schedule,
        scheduled_for=now,
        now=now,
        outcome=RunOutcome.CLAIMED,
        trigger=RunTrigger.MANUAL,
    )


def _insert_run(
    session: Session,
    *,
    schedule: Schedule,
    scheduled_for: datetime,
    now: datetime,
    outcome: RunOutcome,
    missed_runs: int = 0,
    trigger: RunTrigger = RunTrigger.CRON,
) -> Claim:
    """The run record; its claim token is only good when `outcome` is CLAIMED."""
    run_id, token = new_id(), new_id()
    is_claim = outcome == RunOutcome.CLAIMED
    session.execute(
        insert(ScheduleRun).values(
            id=run_id,
            schedule_id=schedule.id,
            tenant_id=schedule.tenant_id,
            scheduled_for=scheduled_for,
            trigger=trigger.value,
            outcome=outcome.value,
            claim_token=token if is_claim else None,
            claimed_at=now,
            fired_at=None if is_claim else now,
            item_count=0,
            missed_runs=missed_runs,
        )
    )
    return Claim(run_id=run_id, token=token)


def reclaim_stale(*, db: Database, now: datetime, settings: Settings) -> list[Claim]:
    """Take over runs left `claimed` by a scheduler that stopped mid-run (after MEDIAQ_LEASE_S)."""
    cutoff = now - timedelta(seconds=settings.lease_s)
    with db.read_session() as session:
        stale = session.execute(
            select(ScheduleRun.id, ScheduleRun.claim_token)
            .where(ScheduleRun.outcome == RunOutcome.CLAIMED.value, ScheduleRun.claimed_at < cutoff)
            .limit(TICK_LIMIT)
        ).all()
    claims = []
    for run_id, old_token in stale:
        token = new_id()
        with db.session() as session:
            taken = session.execute(
                update(ScheduleRun)
                .where(ScheduleRun.id == run_id, ScheduleRun.claim_token == old_token)
                .values(claim_token=token, claimed_at=now)
            )
        if taken.rowcount == 1:
            log.warning("taking over schedule run %s, left claimed by a stopped scheduler", run_id)
            claims.append(Claim(run_id=run_id, token=token))
    return claims


@dataclass
class Firing:
    """What firing a run needs besides the database."""

    db: Database
    store: ObjectStore
    celery: Celery
    settings: Settings
    fetch: FeedFetcher


class LostClaim(Exception):
    """Another scheduler took the run over; this one must not commit a batch for it."""


def fire(*, firing: Firing, claim: Claim, now: datetime) -> ScheduleRun:
    """Produce the batch of a claimed run and record the outcome; never raises for bad input."""
    with firing.db.read_session() as session:
        run = session.get(ScheduleRun, claim.run_id)
        schedule = session.get(Schedule, run.schedule_id) if run else None
    if run is None or schedule is None:
        raise LostClaim(claim.run_id)
    try:
        outcome = _produce(firing=firing, claim=claim, run=run, schedule=schedule, now=now)
    except LostClaim:
        raise
    except QuotaExceeded as error:
        message = (
            f"the tenant has {error.unfinished} unfinished jobs and this run adds {error.adding}; "
            f"at most {error.max_jobs} may be unfinished (MEDIAQ_MAX_UNFINISHED_JOBS)"
        )
        outcome = _finish(firing.db, claim, now, outcome=RunOutcome.FAILED, error=message)
    except (SourceError, ProblemError) as error:
        message = error.detail if isinstance(error, ProblemError) else str(error)
        if isinstance(error, ProblemError) and error.errors:
            message += f" (first: {error.errors[0]['field']}: {error.errors[0]['detail']})"
        outcome = _finish(firing.db, claim, now, outcome=RunOutcome.FAILED, error=message)
    except Exception as error:  # a database or broker blip: recorded, the next run tries again
        log.exception("schedule run %s failed", claim.run_id)
        outcome = _finish(
            firing.db,
            claim,
            now,
            outcome=RunOutcome.FAILED,
            error=f"{type(error).__name__}: {error}",
        )
    return outcome


def _produce(
    *, firing: Firing, claim: Claim, run: ScheduleRun, schedule: Schedule, now: datetime
) -> ScheduleRun:
    found = collect_items(
        schedule=schedule, store=firing.store, settings=firing.settings, fetch=firing.fetch
    )
    items = found.items
    if found.is_incremental:
        with firing.db.read_session() as session:
            items = new_or_changed(session=session, schedule_id=schedule.id, items=items)
        if not items:
            return _finish(firing.db, claim, now, outcome=RunOutcome.SKIPPED_NO_NEW_ITEMS)
    scheduled_for = as_utc(run.scheduled_for)
    assert scheduled_for is not None
    spec = _batch_spec(schedule=schedule, items=items, scheduled_for=scheduled_for, now=now)
    template = _validated_template(firing=firing, schedule=schedule, spec=spec)
    with firing.db.session() as session:
        check_job_quota(
            session=session,
            tenant_id=schedule.tenant_id,
            max_jobs=firing.settings.max_unfinished_jobs,
            adding=len(spec.items),
        )
        accepted = create_batch(
            session=session,
            tenant_id=schedule.tenant_id,
            spec=spec,
            template=template,
            idempotency=None,
        )
        done = _mark(
            session,
            claim,
            now,
            outcome=RunOutcome.CREATED,
            batch_id=accepted.response.id,
            item_count=accepted.response.item_count,
        )
        if found.is_incremental:
            _remember(session, schedule_id=schedule.id, run_id=claim.run_id, items=items, now=now)
    send_stage_runs(app=firing.celery, settings=firing.settings, messages=accepted.messages)
    log.info(
        "schedule %s fired for %s: batch %s with %d items",
        schedule.id,
        scheduled_for.isoformat(),
        accepted.response.id,
        accepted.response.item_count,
    )
    return done


def _batch_spec(
    *, schedule: Schedule, items: list[dict[str, Any]], scheduled_for: datetime, now: datetime
) -> BatchSpec:
    deadline = None
    if schedule.deadline_offset_s is not None:
        offset = timedelta(seconds=schedule.deadline_offset_s)
        deadline = scheduled_for + offset
        if deadline <= now:
            # a late (caught-up) run gets its full offset from now: a deadline already past
            # would expire every job before it starts
            deadline = now + offset
    metadata = {
        **schedule.meta,
        "schedule_id": schedule.id,
        # the same spelling as the run record's JSON (RFC 3339, Z)
        "scheduled_for": scheduled_for.isoformat().replace("+00:00", "Z"),
    }
    try:
        return BatchSpec.model_validate(
            {
                "template": schedule.template,
                "items": items,
                "priority": schedule.priority,
                "metadata": metadata,
                "params": schedule.params,
                "engines": schedule.engines,
                "deadline": deadline,
            }
        )
    except ValueError as error:
        raise SourceError(f"the items do not make a valid batch: {error}") from None


def _validated_template(*, firing: Firing, schedule: Schedule, spec: BatchSpec) -> Any:
    """The checks of POST /v1/batches: template, limits, item fields, asset references."""
    template = builtin_templates().get(spec.template)
    if template is None:
        raise SourceError(f"unknown template {spec.template!r}")
    check_spec(spec=spec, template=template, settings=firing.settings)
    with firing.db.read_session() as session:
        errors = resolve_references(
            spec=spec,
            template=template,
            uploaded={},
            is_known_asset=lambda digest: owns_artifact(
                session=session, tenant_id=schedule.tenant_id, digest=digest
            ),
        )
    if errors:
        raise SourceError(
            f"{len(errors)} input file reference(s) name nothing usable; "
            f"first: {errors[0]['field']}: {errors[0]['detail']}"
        )
    return template


def _remember(
    session: Session, *, schedule_id: str, run_id: str, items: list[dict[str, Any]], now: datetime
) -> None:
    custom_ids = [item["custom_id"] for item in items]
    for start in range(0, len(custom_ids), 500):  # bounded IN lists
        session.execute(
            delete(ScheduleItemDigest).where(
                ScheduleItemDigest.schedule_id == schedule_id,
                ScheduleItemDigest.custom_id.in_(custom_ids[start : start + 500]),
            )
        )
    session.execute(
        insert(ScheduleItemDigest),
        [
            {
                "schedule_id": schedule_id,
                "custom_id": item["custom_id"],
                "digest": item_digest(item),
                "run_id": run_id,
                "updated_at": now,
            }
            for item in items
        ],
    )


def _finish(db: Database, claim: Claim, now: datetime, **values: Any) -> ScheduleRun:
    with db.session() as session:
        return _mark(session, claim, now, **values)


def _mark(session: Session, claim: Claim, now: datetime, **values: Any) -> ScheduleRun:
    """Record the outcome if this caller still holds the claim.

    Raises:
        LostClaim: another scheduler took the run over (the caller's transaction rolls back).
    """
    outcome = values.pop("outcome")
    result = session.execute(
        update(ScheduleRun)
        .where(
            ScheduleRun.id == claim.run_id,
            ScheduleRun.claim_token == claim.token,
            ScheduleRun.outcome == RunOutcome.CLAIMED.value,
        )
        .values(outcome=outcome.value, fired_at=now, claim_token=None, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise LostClaim(claim.run_id)
    run = session.get(ScheduleRun, claim.run_id, populate_existing=True)
    assert run is not None
    schedule = session.get(Schedule, run.schedule_id)
    if schedule is not None:
        _record_run_event(session, schedule=schedule, run=run)
    return run


def _record_run_event(session: Session, *, schedule: Schedule, run: ScheduleRun) -> None:
    """schedule.run in the run's own transaction: live streams and webhooks learn every outcome,
    the schedule's webhook endpoint included."""
    data = {
        "schedule_id": schedule.id,
        "schedule_name": schedule.name,
        "run_id": run.id,
        "scheduled_for": as_utc(run.scheduled_for).isoformat(),  # type: ignore[union-attr]
        "trigger": run.trigger,
        "outcome": run.outcome,
        "batch_id": run.batch_id,
        "item_count": run.item_count,
        "missed_runs": run.missed_runs,
        "error": run.error,
        "webhook_endpoint_id": schedule.webhook_endpoint_id,
    }
    # the event log's batch_id is not null; a run that made no batch files under ""
    row = event_row(
        type_=EventType.SCHEDULE_RUN,
        tenant_id=schedule.tenant_id,
        batch_id=run.batch_id or "",
        data=data,
    )
    record_events(session=session, rows=[row])


def tick(*, firing: Firing, now: datetime) -> list[ScheduleRun]:
    """One scheduler pass at `now`: claim what is due (and stale claims), then fire each."""
    claims = reclaim_stale(db=firing.db, now=now, settings=firing.settings)
    claims += claim_due(db=firing.db, now=now, settings=firing.settings)
    runs = []
    for claim in claims:
        try:
            run = fire(firing=firing, claim=claim, now=now)
        except LostClaim:
            log.warning("schedule run %s was taken over by another scheduler", claim.run_id)
            continue
        runs.append(run)
    return runs


__all__ = ["Claim", "Firing", "LostClaim", "claim_manual", "fire", "plan_runs", "tick"]
