"""Fault injection: workers die mid-stage (SIGKILL of the whole worker, or of one pool child).

PostgreSQL + Redis, local object folder. A killed run's stage keeps its lease until the lease
expires; the reconciler then re-sends it and another worker takes it over.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from producer.objectstore import open_object_store
from schemas.states import StageState
from tests.fault.audit import assert_clean, audit_batch, report
from tests.fault.cluster import (
    FaultCluster,
    child_pids,
    fault_cluster,
    fault_settings,
    kill_group,
    owner_pid,
    voiceover_items,
)
from tests.fault.servers import RedisServer

pytestmark = [pytest.mark.fault, pytest.mark.postgres, pytest.mark.timeout(180)]

JOBS = 50
PARAMS = {"script": {"target_duration_s": 20}}


def find_victim(
    cluster: FaultCluster, batch_id: str, *, dead: set[int], spare_slot: int | None = None
) -> tuple[str, str, int] | None:
    """(stage run id, lease owner, worker slot) of a stage running in a live process now.

    A stage whose runner was killed stays `running` until its lease expires, and its process
    may linger as a zombie a moment: `dead` holds the pids already killed. `spare_slot` is the
    worker just replaced, left alone so that one worker at a time is down.
    """
    for stage_run_id, owner in cluster.running_stages(batch_id):
        pid = owner_pid(owner)
        if pid in dead:
            continue
        for slot, worker in enumerate(cluster.workers):
            if slot == spare_slot:
                continue
            if worker.poll() is None and pid in (worker.pid, *child_pids(worker.pid)):
                return stage_run_id, owner, slot
    return None


def still_held_by(cluster: FaultCluster, stage_run_id: str, owner: str) -> bool:
    """Whether the stage is still `running` under `owner`: the kill interrupted it."""
    from schemas.tables import StageRun

    with cluster.db.read_session() as session:
        stage = session.get(StageRun, stage_run_id)
        return stage.state == StageState.RUNNING and stage.lease_owner == owner


def recovered_count(cluster: FaultCluster, victims: dict[str, str]) -> int:
    """Interrupted stage runs that another worker took over and committed."""
    from schemas.tables import StageRun

    with cluster.db.read_session() as session:
        stages = [session.get(StageRun, sid) for sid in victims]
    return sum(
        1
        for stage in stages
        if stage.state == StageState.SUCCEEDED and stage.lease_owner != victims[stage.id]
    )


def test_killing_whole_workers_mid_stage_loses_and_duplicates_nothing(
    tmp_path: Path, fault_database_url: str, fault_redis: RedisServer
) -> None:
    # Given two single-process workers on PostgreSQL and Redis, and a batch of 50 voiceovers
    settings = fault_settings(tmp_path, database_url=fault_database_url, broker_url=fault_redis.url)
    with fault_cluster(settings, workers=2, concurrency=1) as cluster:
        started = time.monotonic()
        batch_id = cluster.submit(voiceover_items(JOBS, prefix="kill"), params=PARAMS)
        # When a worker is SIGKILLed (with its pool) while it runs a stage, again and again,
        # and a new worker replaces it each time, as a Deployment would
        kills, victims, dead, spare = 0, {}, set(), None
        while len(victims) < 12 and cluster.unfinished_jobs(batch_id):
            found = find_victim(cluster, batch_id, dead=dead, spare_slot=spare)
            if found is None:
                time.sleep(0.01)
                continue
            stage_run_id, owner, slot = found
            spare = slot
            dead.add(owner_pid(owner))
            kill_group(cluster.workers[slot])
            kills += 1
            if still_held_by(cluster, stage_run_id, owner):
                victims[stage_run_id] = owner
            cluster.replace_worker(slot)
        cluster.wait_drained(batch_id, timeout_s=90)
        drain_s = time.monotonic() - started
        # Then every job succeeded, each interrupted stage was finished by another worker,
        # and nothing was published or committed twice
        store = open_object_store(settings.resolved_storage_url())
        audit = audit_batch(
            db=cluster.db, store=store, batch_id=batch_id, log_path=settings.data_dir / "worker.log"
        )
        recovered = recovered_count(cluster, victims)
    report("worker_sigkill", audit, faults=kills, recovered=recovered, drain_s=drain_s)
    assert len(victims) >= 10, f"only {len(victims)} of {kills} kills hit a running stage"
    assert recovered == len(victims)
    assert_clean(audit, accepted=JOBS)


def test_killing_pool_children_mid_stage_loses_and_duplicates_nothing(
    tmp_path: Path, fault_database_url: str, fault_redis: RedisServer
) -> None:
    # Given one worker with a prefork pool of two children, and a batch of 50 voiceovers
    settings = fault_settings(tmp_path, database_url=fault_database_url, broker_url=fault_redis.url)
    with fault_cluster(settings, workers=1, concurrency=2) as cluster:
        started = time.monotonic()
        batch_id = cluster.submit(voiceover_items(JOBS, prefix="oom"), params=PARAMS)
        # When the pool child running a stage is SIGKILLed, as the out-of-memory killer does,
        # several times (the worker's main process lives on and forks a new child)
        kills, victims, dead = 0, {}, set()
        while len(victims) < 5 and cluster.unfinished_jobs(batch_id):
            found = find_victim(cluster, batch_id, dead=dead)
            pid = owner_pid(found[1]) if found else None
            if found is None or pid == cluster.workers[0].pid:
                time.sleep(0.01)
                continue
            stage_run_id, owner, _ = found
            dead.add(pid)
            os.kill(pid, signal.SIGKILL)
            kills += 1
            if still_held_by(cluster, stage_run_id, owner):
                victims[stage_run_id] = owner
            time.sleep(0.5)  # let the main process notice and replace the child
        cluster.wait_drained(batch_id, timeout_s=90)
        drain_s = time.monotonic() - started
        store = open_object_store(settings.resolved_storage_url())
        audit = audit_batch(
            db=cluster.db, store=store, batch_id=batch_id, log_path=settings.data_dir / "worker.log"
        )
        recovered = recovered_count(cluster, victims)
        assert cluster.workers[0].poll() is None, "the worker's main process died with its child"
    # Then every job succeeded and nothing was published or committed twice
    report("pool_child_sigkill", audit, faults=kills, recovered=recovered, drain_s=drain_s)
    assert len(victims) >= 3, f"only {len(victims)} of {kills} kills hit a running stage"
    assert recovered == len(victims)
    assert_clean(audit, accepted=JOBS)
