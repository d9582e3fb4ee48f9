"""Re-sends lost stage runs, expires jobs past their deadline and prunes the event log.

A stage run's message is lost when it is stuck `queued`, or `running` with a dead lease.
"""

from __future__ import annotations

import logging
import threading

from celery import Celery

from producer.backlog import requeue_after_s, waiting_messages
from producer.broker import QUEUES
from producer.crud import stale_stage_runs
from producer.db import Database
from producer.deadlines import expire_overdue_jobs
from producer.dispatch import send_stage_runs
from producer.event_retention import prune_events
from producer.revoke import revoke_stage_runs
from producer.settings import Settings

log = logging.getLogger(__name__)


def reconcile_once(*, db: Database, app: Celery, settings: Settings, limit: int = 1000) -> int:
    """One pass; returns how many stage runs were sent again."""
    waiting = waiting_messages(app=app, queues=QUEUES)
    queued_before_s = requeue_after_s(base_s=settings.requeue_after_s, waiting=waiting)
    with db.session() as session:
        to_revoke = expire_overdue_jobs(session=session, limit=limit)
        messages = stale_stage_runs(session=session, queued_before_s=queued_before_s, limit=limit)
    if to_revoke:
        log.info("expired jobs past their deadline; revoking %d stage runs", len(to_revoke))
        revoke_stage_runs(app=app, settings=settings, stage_run_ids=to_revoke)
    if messages:
        log.warning("re-sending %d stale stage runs", len(messages))
        send_stage_runs(app=app, settings=settings, messages=messages, declare_queues=True)
    if settings.event_retention_days > 0:
        with db.session() as session:
            pruned = prune_events(
                session=session, retention_s=settings.event_retention_days * 86400
            )
        if pruned:
            log.info(
                "pruned %d events past the %g-day retention", pruned, settings.event_retention_days
            )
    return len(messages)


class Reconciler(threading.Thread):
    """Runs `reconcile_once` every `settings.reconcile_every_s` until stopped."""

    def __init__(self, *, db: Database, app: Celery, settings: Settings) -> None:
        super().__init__(name="mediaq-reconciler", daemon=True)
        self._db, self._app, self._settings = db, app, settings
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self._settings.reconcile_every_s):
            try:
                reconcile_once(db=self._db, app=self._app, settings=self._settings)
            except Exception:  # database blip: the next pass tries again
                log.warning("reconciler pass failed", exc_info=True)

    def stop(self) -> None:
        self._stop_event.set()
