"""Fault injection: PostgreSQL restarts mid-batch.

While it is down the API answers 503 problem+json (not 500, not a hang); workers survive; no
accepted job is lost. The cluster is this test's own, so stopping it disturbs nothing else.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from producer.objectstore import open_object_store
from schemas.states import StageState
from tests.fault.audit import assert_clean, audit_batch, report
from tests.fault.cluster import FaultCluster, fault_cluster, fault_settings, voiceover_items
from tests.fault.servers import PostgresCluster, RedisServer

pytestmark = [pytest.mark.fault, pytest.mark.postgres, pytest.mark.timeout(180)]

JOBS = 50
DOWN_S = 4.0
ANSWER_WITHIN_S = 10.0


def probe_while_down(cluster: FaultCluster, batch_id: str) -> int:
    """Read and submit while the database is down; every answer must be a quick 503 problem."""
    answered = 0
    deadline = time.monotonic() + DOWN_S
    body = {"template": "voiceover", "items": voiceover_items(1, prefix="outage")}
    while time.monotonic() < deadline:
        for method, path, kwargs in (
            ("GET", f"/v1/batches/{batch_id}", {}),
            ("POST", "/v1/batches", {"json": body, "headers": {"Idempotency-Key": "outage"}}),
        ):
            asked = time.monotonic()
            response = cluster.http.request(method, path, timeout=ANSWER_WITHIN_S, **kwargs)
            assert time.monotonic() - asked < ANSWER_WITHIN_S
            assert response.status_code == 503, (method, path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers.get("retry-after")
            answered += 1
        time.sleep(0.2)
    return answered


def test_postgres_restart_mid_batch_answers_503_and_loses_nothing(
    tmp_path: Path, fault_postgres: PostgresCluster, fault_redis: RedisServer
) -> None:
    # Given a worker busy with a batch of 50 voiceovers on a PostgreSQL of this test's own
    settings = fault_settings(
        tmp_path, database_url=fault_postgres.server.url, broker_url=fault_redis.url
    )
    with fault_cluster(settings, workers=1, concurrency=2) as cluster:
        started = time.monotonic()
        batch_id = cluster.submit(voiceover_items(JOBS, prefix="pg"), params={})
        while cluster.stage_states(batch_id).get("succeeded", 0) < JOBS // 2:
            time.sleep(0.05)
        # When PostgreSQL stops mid-batch (fast shutdown ends every connection) and comes back
        in_flight = cluster.stage_ids_in(batch_id, (StageState.QUEUED, StageState.RUNNING))
        fault_postgres.stop()
        answered_503 = probe_while_down(cluster, batch_id)
        fault_postgres.start()
        # Then the submission refused during the outage is accepted on retry with its key,
        # the workers carry on, and every accepted job finishes
        retried = cluster.submit(voiceover_items(1, prefix="outage"), params={})
        cluster.wait_drained(batch_id, timeout_s=120)
        drain_s = time.monotonic() - started
        cluster.wait_drained(retried, timeout_s=30)
        store = open_object_store(settings.resolved_storage_url())
        audit = audit_batch(
            db=cluster.db, store=store, batch_id=batch_id, log_path=settings.data_dir / "worker.log"
        )
        finished = cluster.stage_ids_in(batch_id, (StageState.SUCCEEDED,))
        assert cluster.workers[0].poll() is None, "the worker died with the database"
    recovered = len(in_flight & finished)
    extra = f"api_503={answered_503}"
    report("postgres_restart", audit, faults=1, recovered=recovered, drain_s=drain_s, extra=extra)
    assert in_flight and recovered == len(in_flight)
    assert_clean(audit, accepted=JOBS)
