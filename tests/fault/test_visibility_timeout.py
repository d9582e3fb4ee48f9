"""Fault injection: a stage runs longer than the Redis visibility timeout, and still runs once.

Redis (kombu) hands a message that has not been acknowledged within the visibility timeout to
another consumer, while the first is still working on it. The stage's lease recognises the second
delivery and drops it: one attempt, one commit, no duplicate artifact.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from producer.objectstore import open_object_store
from schemas.tables import Job, StageRun
from tests.fault.audit import assert_clean, audit_batch, read_outcomes, report
from tests.fault.cluster import fault_cluster, fault_settings, voiceover_items
from tests.fault.servers import RedisServer

pytestmark = [pytest.mark.fault, pytest.mark.postgres, pytest.mark.timeout(180)]

JOBS = 50
LONG_JOBS = 4
VISIBILITY_TIMEOUT_S = 1.0
# a long article read slowly: its tts stage takes seconds (3-4 s on a quiet machine, more
# under load), several visibility timeouts
LONG_PARAMS = {"script": {"target_duration_s": 900}, "tts": {"rate_wpm": 80}}


def test_a_stage_longer_than_the_visibility_timeout_runs_once(
    tmp_path: Path, fault_database_url: str, fault_redis: RedisServer
) -> None:
    # Given Redis redelivering unacknowledged messages after 1 s, and a batch of 50 voiceovers
    # of which 4 have long articles whose narration takes several seconds to synthesise
    settings = fault_settings(
        tmp_path,
        database_url=fault_database_url,
        broker_url=fault_redis.url,
        broker_visibility_timeout_s=VISIBILITY_TIMEOUT_S,
    )
    items = voiceover_items(JOBS, prefix="vt")
    long_items = voiceover_items(LONG_JOBS, prefix="vt-long", sentences=160)
    for item, long_item in zip(items[:LONG_JOBS], long_items, strict=True):
        item["body"] = long_item["body"]
    with fault_cluster(settings, workers=1, concurrency=2) as cluster:
        started = time.monotonic()
        batch_id = cluster.submit(items, params=LONG_PARAMS)
        cluster.wait_drained(batch_id, timeout_s=120)
        drain_s = time.monotonic() - started
        with cluster.db.read_session() as session:
            long_stages = session.execute(
                select(
                    StageRun.id,
                    StageRun.name,
                    StageRun.attempts,
                    StageRun.started_at,
                    StageRun.finished_at,
                )
                .join(Job, Job.id == StageRun.job_id)
                .where(Job.batch_id == batch_id, Job.position < LONG_JOBS)
            ).all()
        long_tts = [row for row in long_stages if row.name == "tts"]
        store = open_object_store(settings.resolved_storage_url())
        audit = audit_batch(
            db=cluster.db, store=store, batch_id=batch_id, log_path=settings.data_dir / "worker.log"
        )
    # Then each long stage ran longer than the timeout, was delivered again while it ran,
    # and that delivery was dropped: one attempt, one commit, nothing published twice
    outcomes = read_outcomes(settings.data_dir / "worker.log")
    # the worker that ran a long job's script ran its tts right after it in the same delivery
    # (workers/tasks.py follow-ons), so the message Redis hands out again may be either's
    long_ids = {row.id for row in long_stages}
    redelivered = sum(1 for sid, outcome in outcomes if sid in long_ids and outcome == "skipped")
    longest_s = max((row.finished_at - row.started_at).total_seconds() for row in long_tts)
    extra = f"longest_stage_s={longest_s:.1f} visibility_timeout_s={VISIBILITY_TIMEOUT_S:g}"
    report(
        "visibility_timeout",
        audit,
        faults=redelivered,
        recovered=redelivered,
        drain_s=drain_s,
        extra=extra,
    )
    assert longest_s > VISIBILITY_TIMEOUT_S, "no stage outlived the visibility timeout"
    assert redelivered >= 1, "Redis did not redeliver: the scenario tested nothing"
    assert all(row.attempts == 1 for row in long_stages), [r.attempts for r in long_stages]
    assert_clean(audit, accepted=JOBS)
