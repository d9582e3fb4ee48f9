"""Pruning the event log: rows older than the retention that no reader still needs.

The log is the outbox for live events and webhooks; without pruning it grows by several rows
per job forever. An old event is still needed while the webhook relay has not fanned it out
or one of its deliveries is pending; those stay whatever their age. A delivery that ended
(delivered or failed) goes with its event, and its attempts with it: the delivery log has the
same retention. SSE clients resume with `Last-Event-ID` within the retention.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from producer.ids import as_utc, utcnow
from producer.webhooks.relay import CURSOR_NAME
from schemas.tables import Event, EventCursor, WebhookAttempt, WebhookDelivery, WebhookEndpoint

# rows looked at per pass: a pass stays short, and a backlog drains over a few passes
PRUNE_PAGE = 5000


def prune_events(*, session: Session, retention_s: float, now: datetime | None = None) -> int:
    """Delete up to PRUNE_PAGE of the oldest events past `retention_s`; returns how many."""
    cutoff = (now or utcnow()) - timedelta(seconds=retention_s)
    # the usual pass, every few seconds: the oldest event is young enough, and nothing is read
    first = session.execute(select(Event.created_at).order_by(Event.id).limit(1)).scalar()
    if first is None or as_utc(first) >= cutoff:
        return 0
    oldest = session.execute(
        select(Event.id, Event.created_at).order_by(Event.id).limit(PRUNE_PAGE)
    ).all()
    fanned_out_to = _fanned_out_to(session=session)
    # ids follow commit order, so the old rows are a prefix; stop at the first young one
    candidates: list[int] = []
    for row in oldest:
        if as_utc(row.created_at) >= cutoff or row.id > fanned_out_to:
            break
        candidates.append(row.id)
    if not candidates:
        return 0
    pending = set(
        session.execute(
            select(WebhookDelivery.event_id).where(
                WebhookDelivery.event_id.in_(candidates), WebhookDelivery.state == "pending"
            )
        ).scalars()
    )
    doomed = [event_id for event_id in candidates if event_id not in pending]
    if not doomed:
        return 0
    # explicit rather than ON DELETE CASCADE: SQLite connections made elsewhere may not
    # enforce foreign keys
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.event_id.in_(doomed))
    session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(doomed)))
    session.execute(delete(Event).where(Event.id.in_(doomed)))
    return len(doomed)


def _fanned_out_to(*, session: Session) -> float:
    """The newest event id the webhook relay is done with (turned into deliveries or skipped)."""
    cursor = session.execute(
        select(EventCursor.event_id).where(EventCursor.name == CURSOR_NAME)
    ).scalar_one_or_none()
    if cursor is not None:
        return cursor
    # the relay has not run yet: it will start from the oldest endpoint's start, if any
    first = session.execute(
        select(func.min(WebhookEndpoint.after_event_id)).where(WebhookEndpoint.deleted_at.is_(None))
    ).scalar_one_or_none()
    return float("inf") if first is None else first
