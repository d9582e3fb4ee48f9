"""Fault injection: Redis restarts mid-batch, once keeping its data and once losing it.

The database is the source of truth: messages Redis lost are found again by the reconciler,
which re-sends every stage run left `queued` (or `running` with an expired lease).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from producer.objectstore import open_object_store
from schemas.states import StageState
from tests.fault.audit import assert_clean, audit_batch, report
from tests.fault.cluster import fault_cluster, fault_settings, voiceover_items
from tests.fault.servers import RedisServer

pytestmark = [pytest.mark.fault, pytest.mark.postgres, pytest.mark.timeout(180)]

JOBS = 50
DOWN_S = 2.0
CONCURRENCY = 2
# Between counting the waiting messages and the stop, the worker's processes take a few; the
# count after the restart may be this much lower and still mean nothing was lost.
COUNT_SLACK = 4 * CONCURRENCY


def waiting_in_redis(server: RedisServer) -> int:
    """Messages in the cpu queue's lists (every priority step)."""
    import redis

    client = redis.Redis.from_url(server.url)
    try:
        return sum(int(client.llen(name)) for name in ["cpu", *(f"cpu:{s}" for s in range(1, 10))])
    finally:
        client.close()


@pytest.mark.parametrize("is_flushed", [False, True], ids=["kept", "flushed"])
def test_redis_restart_mid_batch_loses_and_duplicates_nothing(
    tmp_path: Path, fault_database_url: str, fault_redis: RedisServer, is_flushed: bool
) -> None:
    # Given a worker busy with a batch of 50 voiceovers on PostgreSQL and a persistent Redis
    settings = fault_settings(tmp_path, database_url=fault_database_url, broker_url=fault_redis.url)
    scenario = f"redis_restart_{'flushed' if is_flushed else 'kept'}"
    with fault_cluster(settings, workers=1, concurrency=CONCURRENCY) as cluster:
        started = time.monotonic()
        batch_id = cluster.submit(voiceover_items(JOBS, prefix=scenario), params={})
        while cluster.stage_states(batch_id).get("succeeded", 0) < JOBS // 2:
            time.sleep(0.05)
        # When Redis is stopped mid-batch (after FLUSHALL in the flushed case) and started again
        if is_flushed:
            fault_redis.flushall()
        in_flight = cluster.stage_ids_in(batch_id, (StageState.QUEUED, StageState.RUNNING))
        waiting_before = waiting_in_redis(fault_redis)
        fault_redis.stop()
        time.sleep(DOWN_S)
        fault_redis.start()
        waiting_after = waiting_in_redis(fault_redis)
        # Then the workers reconnect, lost messages are re-sent, and the batch drains
        cluster.wait_drained(batch_id, timeout_s=90)
        drain_s = time.monotonic() - started
        store = open_object_store(settings.resolved_storage_url())
        audit = audit_batch(
            db=cluster.db, store=store, batch_id=batch_id, log_path=settings.data_dir / "worker.log"
        )
        finished = cluster.stage_ids_in(batch_id, (StageState.SUCCEEDED,))
        assert cluster.workers[0].poll() is None, "the worker died with the broker connection"
    recovered = len(in_flight & finished)
    extra = f"messages_before={waiting_before} after_restart={waiting_after}"
    report(scenario, audit, faults=1, recovered=recovered, drain_s=drain_s, extra=extra)
    if not is_flushed:
        # appendonly: what was waiting is still there, less what moved between the count and
        # the stop. It may also have grown: the worker gives back the messages it had reserved
        # when its connection dropped (kombu restores them; the leases make reruns no-ops).
        assert waiting_before > COUNT_SLACK, "too little waited in Redis to tell kept from lost"
        assert waiting_after >= waiting_before - COUNT_SLACK, extra
    assert in_flight, "the restart came after the batch had drained; nothing was at risk"
    assert recovered == len(in_flight)
    assert_clean(audit, accepted=JOBS)
