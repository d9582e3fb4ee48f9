"""Accepting a batch: validated spec -> batch, job and stage-run rows in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from producer.crud import bulk_insert
from producer.deadlines import parse_item_deadline
from producer.dispatch import StageMessage
from producer.events import batch_created_event, record_events
from producer.ids import new_id, utcnow
from producer.lifecycle import plan_stage_runs
from schemas.api import BatchAccepted, BatchSpec, JobRef
from schemas.pipeline import PipelineTemplate, topological_order
from schemas.states import JobState, StageState
from schemas.tables import Batch, IdempotencyRecord, Job, StageRun


@dataclass(frozen=True)
class Idempotency:
    key: str
    request_digest: str


class IdempotencyConflict(Exception):
    """The key was used before with a different request body."""


@dataclass(frozen=True)
class Accepted:
    response: BatchAccepted
    messages: list[StageMessage]
    is_replay: bool = False


def create_batch(
    *,
    session: Session,
    tenant_id: str,
    spec: BatchSpec,
    template: PipelineTemplate,
    idempotency: Idempotency | None,
) -> Accepted:
    """Write the batch with all its jobs and stage runs, plus the idempotency record.

    Returns the response and the messages to send once the transaction has committed.
    A replayed idempotency key returns the first response and no messages.

    Raises:
        IdempotencyConflict: the key was first used with another body.
    """
    if idempotency is not None:
        replay = find_replay(session=session, tenant_id=tenant_id, idempotency=idempotency)
        if replay is not None:
            return Accepted(response=replay, messages=[], is_replay=True)
    now = utcnow()
    batch_id = new_id()
    job_rows, stage_rows, messages = _build_rows(
        batch_id=batch_id, tenant_id=tenant_id, spec=spec, template=template, now=now
    )
    session.add(
        Batch(
            id=batch_id,
            tenant_id=tenant_id,
            template=template.name,
            priority=spec.priority,
            item_count=len(job_rows),
            meta=spec.metadata,
            params=spec.params,
            created_at=now,
            deadline=utc_deadline(spec.deadline),
        )
    )
    session.flush()
    # Core bulk inserts (one COPY each on PostgreSQL). The ORM bulk path drops None values
    # and so splits rows with and without queued_at into one statement per row.
    bulk_insert(session=session, table=Job.__table__, rows=job_rows)
    bulk_insert(session=session, table=StageRun.__table__, rows=stage_rows)
    response = BatchAccepted(
        id=batch_id,
        template=template.name,
        item_count=len(job_rows),
        jobs=[JobRef(id=row["id"], custom_id=row["custom_id"]) for row in job_rows],
        status_url=f"/v1/batches/{batch_id}",
    )
    if idempotency is not None:  # a reused key fails here, before the event-log lock is taken
        remember_response(
            session=session,
            tenant_id=tenant_id,
            idempotency=idempotency,
            response=response.model_dump(mode="json"),
            now=now,
        )
    created = batch_created_event(
        tenant_id=tenant_id,
        batch_id=batch_id,
        template=template.name,
        priority=spec.priority,
        item_count=len(job_rows),
        now=now,
    )
    record_events(session=session, rows=[created])
    return Accepted(response=response, messages=messages)


def find_replay(
    *, session: Session, tenant_id: str, idempotency: Idempotency
) -> BatchAccepted | None:
    response = find_first_response(session=session, tenant_id=tenant_id, idempotency=idempotency)
    return None if response is None else BatchAccepted.model_validate(response)


def find_first_response(
    *, session: Session, tenant_id: str, idempotency: Idempotency
) -> dict[str, Any] | None:
    """The response stored under the key, or None the first time.

    Raises:
        IdempotencyConflict: the key was first used with another request.
    """
    record = session.execute(
        select(IdempotencyRecord).where(
            IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == idempotency.key
        )
    ).scalar_one_or_none()
    if record is None:
        return None
    if record.request_digest != idempotency.request_digest:
        raise IdempotencyConflict(idempotency.key)
    return record.response


def remember_response(
    *,
    session: Session,
    tenant_id: str,
    idempotency: Idempotency,
    response: dict[str, Any],
    now: datetime,
) -> None:
    """Store the first response under the key; a concurrent first use fails the flush
    (IntegrityError), and the caller answers with what that one stored."""
    session.add(
        IdempotencyRecord(
            tenant_id=tenant_id,
            key=idempotency.key,
            request_digest=idempotency.request_digest,
            status_code=202,
            response=response,
            created_at=now,
        )
    )
    session.flush()


def _build_rows(
    *, batch_id: str, tenant_id: str, spec: BatchSpec, template: PipelineTemplate, now: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[StageMessage]]:
    job_rows: list[dict[str, Any]] = []
    stage_rows: list[dict[str, Any]] = []
    order = topological_order(template)
    ready: list[tuple[tuple[bool, Any, int], StageMessage]] = []
    for position, submitted in enumerate(spec.items):
        job_id = new_id()
        # the deadline lives on the job row, not in the item: a new deadline for the same
        # content must not change the stages' cache keys
        item = {key: value for key, value in submitted.items() if key != "deadline"}
        deadline = job_deadline(submitted, batch_deadline=spec.deadline)
        job_rows.append(
            {
                "id": job_id,
                "batch_id": batch_id,
                "tenant_id": tenant_id,
                "position": position,
                "custom_id": item["custom_id"],
                "item": item,
                "state": JobState.QUEUED.value,
                "created_at": now,
                "deadline": deadline,
            }
        )
        plans = plan_stage_runs(
            template=template, item=item, overrides=spec.params, order=order, engines=spec.engines
        )
        for plan in plans:
            is_ready = not plan.depends_on
            row = {
                "id": new_id(),
                "job_id": job_id,
                "name": plan.name,
                "node": plan.node.name,
                "kind": plan.node.kind,
                "engine": plan.engine,
                "queue": plan.queue,
                "params": plan.params,
                "inputs": plan.inputs,
                "depends_on": plan.depends_on,
                "state": (StageState.QUEUED if is_ready else StageState.PENDING).value,
                "attempts": 0,
                "max_attempts": plan.node.max_attempts,
                "queued_at": now if is_ready else None,
                "is_cache_hit": False,
                "outputs": {},
            }
            stage_rows.append(row)
            if is_ready:
                edf = (deadline is None, deadline, position)
                ready.append((edf, StageMessage(row["id"], plan.queue, spec.priority)))
    # earliest deadline first, then submission order: the order the broker receives them in
    ready.sort(key=lambda pair: pair[0])
    messages = [message for _, message in ready]
    return job_rows, stage_rows, messages


def utc_deadline(deadline: datetime | None) -> datetime | None:
    """In UTC: SQLite keeps no offset, so every stored time must be UTC."""
    return None if deadline is None else deadline.astimezone(UTC)


def job_deadline(item: dict[str, Any], *, batch_deadline: datetime | None) -> datetime | None:
    """The item's own deadline (validated by check_spec), else the batch's."""
    if item.get("deadline") is not None:
        return utc_deadline(parse_item_deadline(item["deadline"]))
    return utc_deadline(batch_deadline)


__all__ = [
    "Accepted",
    "Idempotency",
    "IdempotencyConflict",
    "IntegrityError",
    "create_batch",
    "find_replay",
]
