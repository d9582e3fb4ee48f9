"""The webhook relay: new events become deliveries, due deliveries are POSTed and recorded.

It runs as a thread in every API process (producer/embedded.py), so the embedded mode and each
production replica have one; several replicas cooperate through the database alone:

- fan-out: the `event_cursor` row named "webhooks" is read FOR UPDATE (PostgreSQL; SQLite
  writers are serialised anyway), so one replica at a time turns the events after it into
  delivery rows; (endpoint, event) is unique, so nothing is delivered twice even so;
- sending: a due delivery is claimed with a compare-and-set on its lease before the POST, and its
  result is recorded only while the lease is still held.
A delivery that fails is tried again after `webhook_backoff_s` (+-20% jitter) until
`webhook_max_attempts`, then marked failed. The webhook-id header is the event id, the same on
every attempt, so receivers can drop duplicates.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from producer.crud import insert_ignoring_duplicates
from producer.db import Database
from producer.ids import as_utc, new_id, utcnow
from producer.settings import Settings
from producer.webhooks.secrets_box import SecretUnreadable, decrypt_secret
from producer.webhooks.sender import AttemptResult, post_webhook
from schemas.events import EventType
from schemas.tables import Event, EventCursor, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from schemas.webhooks import AttemptOutcome, DeliveryState

log = logging.getLogger(__name__)

CURSOR_NAME = "webhooks"
FAN_OUT_PAGE = 2000
JITTER = 0.2


@dataclass(frozen=True)
class Claimed:
    """A delivery this relay holds, with what it needs to send it."""

    id: str
    endpoint_id: str
    url: str
    secret_encrypted: str
    event_id: int
    body: bytes
    attempt: int
    # the secret before the last rotation, while its grace period runs
    previous_secret_encrypted: str | None = None


def fan_out(*, session: Session, limit: int = FAN_OUT_PAGE) -> int:
    """Turn the events after the cursor into deliveries; returns how many were made."""
    cursor = _lock_cursor(session=session)
    endpoints = session.execute(
        select(
            WebhookEndpoint.id,
            WebhookEndpoint.tenant_id,
            WebhookEndpoint.event_types,
            WebhookEndpoint.after_event_id,
        ).where(WebhookEndpoint.deleted_at.is_(None))
    ).all()
    if not endpoints:  # nobody listens: skip to the end of the log
        newest = session.execute(select(func.max(Event.id))).scalar_one_or_none() or 0
        if newest > cursor.event_id:
            cursor.event_id, cursor.updated_at = newest, utcnow()
        return 0
    events = session.execute(
        select(Event.id, Event.tenant_id, Event.type, Event.job_id)
        .where(Event.id > cursor.event_id)
        .order_by(Event.id)
        .limit(limit)
    ).all()
    if not events:
        return 0
    by_tenant: dict[str, list[Any]] = {}
    for endpoint in endpoints:
        by_tenant.setdefault(endpoint.tenant_id, []).append(endpoint)
    addressed = _addressed_endpoints(session=session, events=events)
    now = utcnow()
    rows = [
        _delivery_row(event, endpoint_id=endpoint.id, now=now)
        for event in events
        for endpoint in by_tenant.get(event.tenant_id, [])
        if event.id > endpoint.after_event_id
        and (event.type in endpoint.event_types or addressed.get(event.id) == endpoint.id)
    ]
    insert_ignoring_duplicates(session=session, table=WebhookDelivery.__table__, rows=rows)
    cursor.event_id, cursor.updated_at = events[-1].id, now
    return len(rows)


def _addressed_endpoints(*, session: Session, events: list[Any]) -> dict[int, str]:
    """Event id -> the endpoint a schedule.run event is addressed to (its schedule's)."""
    ids = [event.id for event in events if event.type == EventType.SCHEDULE_RUN]
    if not ids:
        return {}
    rows = session.execute(select(Event.id, Event.data).where(Event.id.in_(ids))).all()
    return {
        row.id: row.data["webhook_endpoint_id"]
        for row in rows
        if row.data.get("webhook_endpoint_id")
    }


def has_new_events(*, session: Session) -> bool:
    """Whether the log has grown past the cursor (a read, so idle passes take no write lock)."""
    cursor = session.execute(
        select(EventCursor.event_id).where(EventCursor.name == CURSOR_NAME)
    ).scalar_one_or_none()
    newest = session.execute(select(func.max(Event.id))).scalar_one_or_none() or 0
    return cursor is None or newest > cursor


def _lock_cursor(*, session: Session) -> EventCursor:
    """The relay's cursor row, locked; made at the log's newest id the first time."""
    query = select(EventCursor).where(EventCursor.name == CURSOR_NAME).with_for_update()
    cursor = session.execute(query).scalar_one_or_none()
    if cursor is not None:
        return cursor
    start = min(
        session.execute(select(func.min(WebhookEndpoint.after_event_id))).scalar_one_or_none() or 0,
        session.execute(select(func.max(Event.id))).scalar_one_or_none() or 0,
    )
    row = {"name": CURSOR_NAME, "event_id": start, "updated_at": utcnow()}
    insert_ignoring_duplicates(session=session, table=EventCursor.__table__, rows=[row])
    return session.execute(query).scalar_one()


def _delivery_row(event: Any, *, endpoint_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(),
        "tenant_id": event.tenant_id,
        "endpoint_id": endpoint_id,
        "event_id": event.id,
        "event_type": event.type,
        "job_id": event.job_id,
        "state": DeliveryState.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def claim_due(*, db: Database, owner: str, limit: int, lease_s: float) -> list[Claimed]:
    """Take up to `limit` due deliveries, each with a compare-and-set on its lease."""
    now = utcnow()
    with db.read_session() as session:
        due = list(
            session.execute(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.state == DeliveryState.PENDING,
                    WebhookDelivery.next_attempt_at <= now,
                    _lease_free(now),
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
            ).scalars()
        )
    claimed = []
    for delivery_id in due:
        with db.session() as session:
            taken = session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.state == DeliveryState.PENDING,
                    _lease_free(now),
                )
                .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_s))
            ).rowcount
            if taken:
                claimed.append(_load(session=session, delivery_id=delivery_id))
    return claimed


def _lease_free(now: datetime) -> Any:
    return or_(WebhookDelivery.lease_expires_at.is_(None), WebhookDelivery.lease_expires_at < now)


def _load(*, session: Session, delivery_id: str) -> Claimed:
    row = session.execute(
        select(
            WebhookDelivery.id,
            WebhookDelivery.endpoint_id,
            WebhookDelivery.attempts,
            WebhookEndpoint.url,
            WebhookEndpoint.secret_encrypted,
            WebhookEndpoint.previous_secret_encrypted,
            WebhookEndpoint.previous_secret_expires_at,
            Event.id.label("event_id"),
            Event.type,
            Event.data,
            Event.created_at,
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(Event, Event.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id == delivery_id)
    ).one()
    return Claimed(
        id=row.id,
        endpoint_id=row.endpoint_id,
        url=row.url,
        secret_encrypted=row.secret_encrypted,
        event_id=row.event_id,
        body=webhook_body(type_=row.type, created_at=row.created_at, data=row.data),
        attempt=row.attempts + 1,
        previous_secret_encrypted=row.previous_secret_encrypted
        if (as_utc(row.previous_secret_expires_at) or utcnow()) > utcnow()
        else None,
    )


def webhook_body(*, type_: str, created_at: datetime, data: dict[str, Any]) -> bytes:
    """The Standard Webhooks payload: {"type", "timestamp", "data"}."""
    timestamp = as_utc(created_at) or utcnow()
    payload = {"type": type_, "timestamp": timestamp.isoformat(), "data": data}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def send(claimed: Claimed, *, settings: Settings, server_secret: bytes) -> AttemptResult:
    """One attempt; a secret that no longer decrypts is a failed attempt, not an exception."""
    try:
        secrets = [
            decrypt_secret(
                stored=stored, endpoint_id=claimed.endpoint_id, server_secret=server_secret
            )
            for stored in (claimed.secret_encrypted, claimed.previous_secret_encrypted)
            if stored is not None
        ]
    except SecretUnreadable as error:
        now = utcnow()
        return AttemptResult(AttemptOutcome.NETWORK_ERROR, None, str(error), None, now, now)
    ca_file = settings.fetch_ca_file
    return post_webhook(
        url=claimed.url,
        msg_id=str(claimed.event_id),
        body=claimed.body,
        secrets=secrets,
        allow_private=settings.fetch_allow_private_networks,
        context=ssl.create_default_context(cafile=str(ca_file) if ca_file else None),
        timeout_s=settings.webhook_timeout_s,
    )


def next_attempt_delay_s(*, attempt: int, backoff_s: list[float]) -> float:
    """The wait after attempt `attempt` (1-based): the schedule's entry, +-20% jitter."""
    base = backoff_s[min(attempt, len(backoff_s)) - 1] if backoff_s else 60.0
    return base * random.uniform(1 - JITTER, 1 + JITTER)


def record_attempt(
    *, db: Database, claimed: Claimed, result: AttemptResult, owner: str, settings: Settings
) -> bool:
    """Store the attempt and move the delivery on; False when the lease was lost meanwhile."""
    is_delivered = result.outcome is AttemptOutcome.DELIVERED
    is_last = claimed.attempt >= settings.webhook_max_attempts
    next_at = None
    if not is_delivered and not is_last:
        delay_s = next_attempt_delay_s(
            attempt=claimed.attempt, backoff_s=settings.webhook_backoff_s
        )
        next_at = result.finished_at + timedelta(seconds=delay_s)
    if is_delivered:
        state = DeliveryState.DELIVERED
    else:
        state = DeliveryState.FAILED if is_last else DeliveryState.PENDING
    with db.session() as session:
        moved = session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == claimed.id,
                WebhookDelivery.lease_owner == owner,
                WebhookDelivery.state == DeliveryState.PENDING,  # not failed by a DELETE
            )
            .values(
                state=state,
                attempts=claimed.attempt,
                next_attempt_at=next_at,
                lease_owner=None,
                lease_expires_at=None,
                finished_at=None if state is DeliveryState.PENDING else result.finished_at,
            )
        ).rowcount
        if not moved:
            return False
        session.execute(insert(WebhookAttempt.__table__), [_attempt_row(claimed, result, next_at)])
    return True


def _attempt_row(
    claimed: Claimed, result: AttemptResult, next_at: datetime | None
) -> dict[str, Any]:
    return {
        "delivery_id": claimed.id,
        "attempt": claimed.attempt,
        "outcome": result.outcome.value,
        "status_code": result.status_code,
        "error": _storable(result.error),
        "response_body": _storable(result.response_body),
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "next_attempt_at": next_at,
    }


def _storable(text: str | None) -> str | None:
    """A receiver's text without NUL, which a PostgreSQL text column refuses."""
    return None if text is None else text.replace("\x00", "\ufffd")


def relay_once(
    *,
    db: Database,
    settings: Settings,
    server_secret: bytes,
    owner: str,
    pool: ThreadPoolExecutor | None = None,
) -> int:
    """One pass: fan out new events, then send what is due. Returns the attempts made."""
    with db.read_session() as session:
        is_behind = has_new_events(session=session)
    if is_behind:
        with db.session() as session:
            fan_out(session=session)
    lease_s = settings.webhook_timeout_s * 3 + 30
    claimed = claim_due(
        db=db, owner=owner, limit=max(1, settings.webhook_concurrency), lease_s=lease_s
    )

    def attempt(item: Claimed) -> None:
        result = send(item, settings=settings, server_secret=server_secret)
        if result.outcome is not AttemptOutcome.DELIVERED:
            # endpoint id and cause only: URLs may carry tokens, secrets never leave the box
            log.info("webhook %s to endpoint %s: %s", item.id, item.endpoint_id, result.error)
        record_attempt(db=db, claimed=item, result=result, owner=owner, settings=settings)

    if pool is None or len(claimed) <= 1:
        for item in claimed:
            attempt(item)
    else:
        list(pool.map(attempt, claimed))
    return len(claimed)


class WebhookRelay(threading.Thread):
    """Runs `relay_once` every `settings.webhook_poll_s` until stopped."""

    def __init__(self, *, db: Database, settings: Settings, server_secret: bytes) -> None:
        super().__init__(name="mediaq-webhook-relay", daemon=True)
        self._db, self._settings, self._server_secret = db, settings, server_secret
        self.owner = f"{socket.gethostname()}:{new_id()[:8]}"
        self._stop_event = threading.Event()

    def run(self) -> None:
        with ThreadPoolExecutor(
            max_workers=max(1, self._settings.webhook_concurrency),
            thread_name_prefix="mediaq-webhook",
        ) as pool:
            while not self._stop_event.wait(self._settings.webhook_poll_s):
                try:
                    relay_once(
                        db=self._db,
                        settings=self._settings,
                        server_secret=self._server_secret,
                        owner=self.owner,
                        pool=pool,
                    )
                except Exception:  # database blip: the next pass tries again
                    log.warning("webhook relay pass failed", exc_info=True)

    def stop(self) -> None:
        self._stop_event.set()
