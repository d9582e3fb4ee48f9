"""A production-shaped mediaq for fault tests: API + reconciler in a thread, worker processes.

The pieces are the real ones (producer.embedded.ApiThread, `mediaq worker` processes); only the
timeouts are shortened so that recovery takes seconds: a 3 s lease, a reconciler pass every
0.5 s that re-sends what has been queued for 3 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from producer.db import Database
from producer.embedded import ApiThread, start_worker_process, stop_process
from producer.settings import Settings
from schemas.states import TERMINAL_JOB_STATES, StageState
from schemas.tables import Job, StageRun

FAULT_TIMEOUTS: dict[str, Any] = {
    "lease_s": 3.0,
    "requeue_after_s": 3.0,
    "reconcile_every_s": 0.5,
    "retry_base_s": 0.2,
}
WORDS = [
    "harbour",
    "council",
    "budget",
    "river",
    "school",
    "bridge",
    "market",
    "rail",
    "weather",
    "library",
    "clinic",
    "festival",
    "museum",
    "station",
    "orchard",
    "airport",
    "stadium",
    "factory",
    "garden",
    "tunnel",
    "ferry",
    "theatre",
]


def fault_settings(tmp_path: Path, **values: Any) -> Settings:
    """Settings in a fresh data folder with the short fault-test timeouts (overridable)."""
    settings = Settings(data_dir=tmp_path / "data", **{**FAULT_TIMEOUTS, **values})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def voiceover_items(count: int, *, prefix: str, sentences: int = 3) -> list[dict[str, Any]]:
    """`count` short news items whose texts all differ (also from other prefixes' items), so no
    stage output is a cache hit."""
    items = []
    for index in range(count):
        words = [WORDS[(index * 7 + k * 3) % len(WORDS)] for k in range(4)]
        body = " ".join(
            f"The {prefix} desk, report {index} part {part}: the {words[part % 4]} plan "
            f"moved ahead, officials said on day {index * 3 + part}."
            for part in range(sentences)
        )
        items.append(
            {
                "custom_id": f"{prefix}-{index:03d}",
                "language": "en",
                "headline": f"{words[0].title()} and {words[1]} update number {index}",
                "body": body,
            }
        )
    return items


class FaultCluster:
    """The API (with its reconciler) plus worker processes that a test may kill and restart."""

    def __init__(self, settings: Settings, *, workers: int = 2, concurrency: int = 1) -> None:
        self.settings = settings
        self.concurrency = concurrency
        self.api = ApiThread(settings)
        self.api.start()
        self.api.wait_started()
        self.http = httpx.Client(
            base_url=self.api.url,
            timeout=30,
            headers={"Authorization": f"Bearer {self.api.api_key}"},
        )
        self.db = Database(settings.resolved_database_url())
        self.workers = [self.start_worker() for _ in range(workers)]

    def start_worker(self) -> subprocess.Popen[bytes]:
        return start_worker_process(self.settings, queues="cpu", concurrency=self.concurrency)

    def replace_worker(self, index: int) -> None:
        """Start a new worker in slot `index`, as a Deployment replaces a dead pod."""
        self.workers[index].wait()
        self.workers[index] = self.start_worker()

    def close(self) -> None:
        for worker in self.workers:
            stop_process(worker, timeout_s=10)
        self.http.close()
        self.api.stop()
        self.db.dispose()

    # --- submitting and waiting ---------------------------------------------------------------

    def submit(self, items: list[dict[str, Any]], *, params: dict[str, Any] | None = None) -> str:
        """POST the batch (retrying a 503 with the same Idempotency-Key); the batch id."""
        body = {"template": "voiceover", "items": items, "params": params or {}}
        key = f"fault-{items[0]['custom_id']}"
        deadline = time.monotonic() + 60
        while True:
            response = self.http.post("/v1/batches", json=body, headers={"Idempotency-Key": key})
            if response.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def unfinished_jobs(self, batch_id: str) -> int:
        with self.db.read_session() as session:
            return int(
                session.execute(
                    select(func.count())
                    .select_from(Job)
                    .where(
                        Job.batch_id == batch_id,
                        Job.state.not_in([s.value for s in TERMINAL_JOB_STATES]),
                    )
                ).scalar_one()
            )

    def wait_drained(self, batch_id: str, *, timeout_s: float) -> None:
        """Wait until no job of the batch is left queued or running."""
        deadline = time.monotonic() + timeout_s
        while self.unfinished_jobs(batch_id):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"batch {batch_id} not drained in {timeout_s:.0f} s: "
                    f"{self.unfinished_jobs(batch_id)} jobs unfinished; stages: "
                    f"{self.stage_states(batch_id)}"
                )
            time.sleep(0.2)

    def stage_states(self, batch_id: str) -> dict[str, int]:
        with self.db.read_session() as session:
            rows = session.execute(
                select(StageRun.state, func.count())
                .join(Job, Job.id == StageRun.job_id)
                .where(Job.batch_id == batch_id)
                .group_by(StageRun.state)
            ).all()
        return {str(state): int(count) for state, count in rows}

    def running_stages(self, batch_id: str) -> list[tuple[str, str]]:
        """(stage run id, lease owner) of the batch's stages in `running` now."""
        with self.db.read_session() as session:
            rows = session.execute(
                select(StageRun.id, StageRun.lease_owner)
                .join(Job, Job.id == StageRun.job_id)
                .where(Job.batch_id == batch_id, StageRun.state == StageState.RUNNING)
            ).all()
        return [(row.id, row.lease_owner or "") for row in rows]

    def stage_ids_in(self, batch_id: str, states: tuple[StageState, ...]) -> set[str]:
        with self.db.read_session() as session:
            return set(
                session.execute(
                    select(StageRun.id)
                    .join(Job, Job.id == StageRun.job_id)
                    .where(Job.batch_id == batch_id, StageRun.state.in_(states))
                ).scalars()
            )


def owner_pid(lease_owner: str) -> int:
    """The process id in a lease owner `host:pid:nonce` (the pool child that claimed)."""
    return int(lease_owner.split(":")[-2])


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (a Celery worker's prefork pool)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and its pool children at once, as a killed pod or node goes."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextmanager
def fault_cluster(settings: Settings, **kwargs: Any) -> Iterator[FaultCluster]:
    cluster = FaultCluster(settings, **kwargs)
    try:
        yield cluster
    finally:
        cluster.close()
