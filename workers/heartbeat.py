"""Keeps a stage run's lease alive while long media work runs, and notices a cancel."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType

from sqlalchemy import select

from producer.crud import extend_lease
from producer.db import Database
from producer.deadlines import expire_jobs, is_overdue
from schemas.states import StageState
from schemas.tables import StageRun

log = logging.getLogger(__name__)


class Heartbeat:
    """Checks the stage every `check_every_s` and extends the lease every third of its length.

    `is_lost` turns true when the stage is no longer this worker's to finish: canceled, its
    job expired (past the deadline the heartbeat expires the job itself, without waiting for
    the reconciler) or its lease taken over. Long loops see it through
    `workers.cancellation.check_canceled()`.
    """

    def __init__(
        self,
        *,
        db: Database,
        stage_run_id: str,
        owner: str,
        lease_s: float,
        check_every_s: float = 1.0,
    ) -> None:
        self._db, self._stage_run_id, self._owner, self._lease_s = db, stage_run_id, owner, lease_s
        self._check_every_s = min(check_every_s, lease_s / 3)
        self._stop = threading.Event()
        self.is_lost = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        extended_at = time.monotonic()
        while not self._stop.wait(self._check_every_s):
            is_due = time.monotonic() - extended_at >= self._lease_s / 3
            try:
                held = self._extend() if is_due else self._still_wanted()
            except Exception:  # a database blip: try again next beat, the lease has slack
                log.warning("lease heartbeat failed for %s", self._stage_run_id, exc_info=True)
                continue
            if is_due:
                extended_at = time.monotonic()
            if not held:
                self.is_lost.set()
                return

    def _extend(self) -> bool:
        with self._db.session() as session:
            return extend_lease(
                session=session,
                stage_run_id=self._stage_run_id,
                owner=self._owner,
                lease_s=self._lease_s,
            )

    def _still_wanted(self) -> bool:
        """A read, not a write: cheap enough to run every second on every running stage."""
        with self._db.read_session() as session:
            row = session.execute(
                select(StageRun.state, StageRun.lease_owner, StageRun.job_id).where(
                    StageRun.id == self._stage_run_id
                )
            ).one_or_none()
            if row is None or row.state != StageState.RUNNING or row.lease_owner != self._owner:
                return False
            if not is_overdue(session=session, job_id=row.job_id):
                return True
        with self._db.session() as session:
            expire_jobs(session=session, job_ids=[row.job_id])
        log.info("stage run %s stopped: its job's deadline passed", self._stage_run_id)
        return False
