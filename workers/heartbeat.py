"""Keeps a stage run's lease alive while long media work runs."""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from producer.crud import extend_lease
from producer.db import Database

log = logging.getLogger(__name__)


class Heartbeat:
    """Extends the lease every third of its length; `is_lost` turns true when it cannot."""

    def __init__(self, *, db: Database, stage_run_id: str, owner: str, lease_s: float) -> None:
        self._db, self._stage_run_id, self._owner, self._lease_s = db, stage_run_id, owner, lease_s
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
        while not self._stop.wait(self._lease_s / 3):
            try:
                with self._db.session() as session:
                    held = extend_lease(
                        session=session,
                        stage_run_id=self._stage_run_id,
                        owner=self._owner,
                        lease_s=self._lease_s,
                    )
            except Exception:  # a database blip: try again next beat, the lease has slack
                log.warning("lease heartbeat failed for %s", self._stage_run_id, exc_info=True)
                continue
            if not held:
                self.is_lost.set()
                return
