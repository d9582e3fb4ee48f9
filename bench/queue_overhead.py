"""Figure 3: queue overhead per stage, from the database timestamps of a three-stage noop chain.

Real worker processes (`bench.noop_worker`, prefork) run the bench-only noop stage. Jobs go one
at a time (submit, wait until it ends, next), so the figures hold the queue's own cost and no
waiting behind other work. Per stage run:

- send → start = started_at − queued_at (queued_at is stamped when the stage becomes ready,
  just before the commit that precedes its publish);
- finish → next send = next stage's queued_at − this stage's finished_at;
- finish → next start = next stage's started_at − this stage's finished_at (the whole hop);
- run = finished_at − started_at (claim, snapshot, cache lookup, noop, store, provenance).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from sqlalchemy import select

from bench.noop_template import NOOP_TEMPLATE
from bench.processes import NoopWorker, api_headers, worker_log_tail
from bench.report import Figure, median, percentile
from bench.setups import Setup
from producer.db import Database
from producer.ids import as_utc
from schemas.states import TERMINAL_JOB_STATES, JobState, StageState
from schemas.tables import Job, StageRun

TARGET_MS = 5.0
WARMUP_JOBS = 3  # the first runs load the engine, open connections, fork pool children
JOB_TIMEOUT_S = 60.0
POLL_S = 0.01
MAX_WORKER_CRASHES = 5


@dataclass
class Gaps:
    send_to_start_ms: list[float] = field(default_factory=list)
    finish_to_next_send_ms: list[float] = field(default_factory=list)
    finish_to_next_start_ms: list[float] = field(default_factory=list)
    run_ms: list[float] = field(default_factory=list)


def _ms(later: datetime | None, earlier: datetime | None) -> float:
    if later is None or earlier is None:
        raise RuntimeError("a stage run lacks a timestamp")
    return (as_utc(later) - as_utc(earlier)).total_seconds() * 1000  # type: ignore[operator]


def _wait_job(db: Database, job_id: str, *, worker: NoopWorker) -> str | None:
    """The job's final state, or None when the worker died first."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    terminal = {state.value for state in TERMINAL_JOB_STATES}
    while time.monotonic() < deadline:
        with db.read_session() as session:
            state = session.execute(select(Job.state).where(Job.id == job_id)).scalar_one()
        if state in terminal:
            return str(state)
        if not worker.is_alive:
            return None
        time.sleep(POLL_S)
    raise RuntimeError(
        f"noop job {job_id} did not end within {JOB_TIMEOUT_S} s; worker log:\n"
        f"{worker_log_tail(worker.setup)}"
    )


def _run_jobs(
    http: httpx.Client, db: Database, *, worker: NoopWorker, count: int, tag: str
) -> list[str]:
    """Submit and wait for `count` one-item jobs, one at a time; their ids.

    A job whose worker died is left out (its message died with it) and the worker restarted.
    """
    job_ids: list[str] = []
    for index in range(count + MAX_WORKER_CRASHES):
        if len(job_ids) == count:
            break
        name = f"{tag}-{index:05d}"
        response = http.post(
            "/v1/batches",
            # a field beyond custom_id makes each item's cache key unique: no stage is a cache hit
            json={"template": NOOP_TEMPLATE, "items": [{"custom_id": name, "note": name}]},
        )
        if response.status_code != 202:
            raise RuntimeError(f"submit answered {response.status_code}: {response.text[:500]}")
        job_id = response.json()["jobs"][0]["id"]
        state = _wait_job(db, job_id, worker=worker)
        if state is None:
            log_tail = worker_log_tail(worker.setup)
            if worker.crashes >= MAX_WORKER_CRASHES:
                raise RuntimeError(f"the noop worker died {worker.crashes + 1} times:\n{log_tail}")
            worker.restart()
            continue
        if state != JobState.SUCCEEDED:
            log_tail = worker_log_tail(worker.setup)
            raise RuntimeError(f"noop job {job_id} ended {state}; worker log:\n{log_tail}")
        job_ids.append(job_id)
    if len(job_ids) < count:
        raise RuntimeError(f"only {len(job_ids)} of {count} noop jobs succeeded")
    return job_ids


def collect_gaps(db: Database, job_ids: Sequence[str]) -> Gaps:
    """The four intervals of every stage run of the jobs, from their timestamps."""
    with db.read_session() as session:
        rows = (
            session.execute(select(StageRun).where(StageRun.job_id.in_(list(job_ids))))
            .scalars()
            .all()
        )
    by_job: dict[str, dict[str, StageRun]] = {}
    for row in rows:
        if row.state != StageState.SUCCEEDED or row.attempts != 1:
            raise RuntimeError(f"stage run {row.id} is {row.state} after {row.attempts} attempts")
        by_job.setdefault(row.job_id, {})[row.name] = row
    gaps = Gaps()
    for stages in by_job.values():
        for stage in stages.values():
            gaps.send_to_start_ms.append(_ms(stage.started_at, stage.queued_at))
            gaps.run_ms.append(_ms(stage.finished_at, stage.started_at))
            for upstream in stage.depends_on:
                previous = stages[upstream]
                gaps.finish_to_next_send_ms.append(_ms(stage.queued_at, previous.finished_at))
                gaps.finish_to_next_start_ms.append(_ms(stage.started_at, previous.finished_at))
    return gaps


def _row(
    name: str, values: list[float], *, setup: Setup, target_ms: float | None, command: str
) -> Figure:
    p50, p90 = median(values), percentile(values, 0.90)
    return Figure(
        figure=name,
        setup=setup.label,
        value=f"median {p50:.1f} ms, p90 {p90:.1f} ms ({len(values)} stage runs)",
        target=f"median < {target_ms:.0f} ms" if target_ms is not None else "",
        command=command,
        numbers={"median_ms": p50, "p90_ms": p90, "count": len(values)},
        is_met=(p50 < target_ms) if target_ms is not None else None,
    )


def measure(setup: Setup, url: str, *, jobs: int, concurrency: int, command: str) -> list[Figure]:
    """Run `jobs` noop_chain jobs one after another on a fresh worker; rows from their stamps."""
    db = Database(setup.database_url)
    try:
        with (
            NoopWorker(setup, concurrency=concurrency) as worker,
            httpx.Client(base_url=url, timeout=60.0, headers=api_headers(setup)) as http,
        ):
            _run_jobs(http, db, worker=worker, count=WARMUP_JOBS, tag="warmup")
            job_ids = _run_jobs(http, db, worker=worker, count=jobs, tag="noop")
        gaps = collect_gaps(db, job_ids)
    finally:
        db.dispose()
    rows = [
        (f"queue: send → start ({jobs} jobs × 3 stages)", gaps.send_to_start_ms, TARGET_MS),
        ("queue: finish → next send", gaps.finish_to_next_send_ms, TARGET_MS),
        ("queue: finish → next start (whole hop)", gaps.finish_to_next_start_ms, None),
        ("noop stage run in the runner (start → finish)", gaps.run_ms, None),
    ]
    figures = [
        _row(name, values, setup=setup, target_ms=target_ms, command=command)
        for name, values, target_ms in rows
    ]
    if worker.crashes:
        figures[0].value += f"; **worker died {worker.crashes}×**, restarted (see notes)"
        figures[0].numbers["worker_crashes"] = worker.crashes
    return figures
