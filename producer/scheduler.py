"""The scheduler loop: `mediaq scheduler` in production, a thread of `mediaq up` when embedded.

Every MEDIAQ_SCHEDULER_POLL_S it fires the runs that are due (producer/schedule_runs.py). Any
number of schedulers may run against one database: each due run is fired exactly once.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime
from functools import partial

from celery import Celery

from producer.db import Database
from producer.ids import utcnow
from producer.objectstore import ObjectStore, open_object_store
from producer.schedule_runs import Firing, tick
from producer.schedule_sources import FeedFetcher, fetch_feed
from producer.settings import Settings

log = logging.getLogger(__name__)


class Scheduler(threading.Thread):
    """Runs `tick` every `settings.scheduler_poll_s` until stopped.

    Args:
        clock: the time source; tests pass a controlled one instead of waiting for cron minutes.
        fetch: how feeds are fetched (default: with the input-URL address checks).
    """

    def __init__(
        self,
        *,
        db: Database,
        store: ObjectStore,
        celery: Celery,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        fetch: FeedFetcher | None = None,
    ) -> None:
        super().__init__(name="mediaq-scheduler", daemon=True)
        self.firing = Firing(
            db=db,
            store=store,
            celery=celery,
            settings=settings,
            fetch=fetch or partial(fetch_feed, settings=settings),
        )
        self._clock = clock
        self._stop_event = threading.Event()

    def run_once(self) -> int:
        """One pass; returns how many runs it recorded an outcome for."""
        return len(tick(firing=self.firing, now=self._clock()))

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.run_once()
            except Exception:  # database blip: the next pass tries again
                log.warning("scheduler pass failed", exc_info=True)
            self._stop_event.wait(self.firing.settings.scheduler_poll_s)

    def stop(self) -> None:
        self._stop_event.set()


def run_scheduler(settings: Settings) -> None:
    """`mediaq scheduler`: the loop in the foreground until SIGTERM or Ctrl-C."""
    from producer.broker import make_celery

    db = Database(settings.resolved_database_url())
    scheduler = Scheduler(
        db=db,
        store=open_object_store(settings.resolved_storage_url()),
        celery=make_celery(settings, name="mediaq-scheduler"),
        settings=settings,
    )
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
    log.info("scheduler started: polling every %.1f s", settings.scheduler_poll_s)
    scheduler.start()
    try:
        while scheduler.is_alive():
            scheduler.join(timeout=1.0)
    except KeyboardInterrupt:
        scheduler.stop()
        scheduler.join(timeout=30)
    finally:
        db.dispose()
    log.info("scheduler stopped")
