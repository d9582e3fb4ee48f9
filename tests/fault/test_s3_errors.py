"""Fault injection: the S3 API answers 500/503 for a while; artifacts retry and land once.

A proxy in front of moto's S3 server fails a share of the requests all along (some after the
server did the write) and every request during an outage window mid-batch.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from producer.objectstore import open_object_store
from producer.objectstore.s3 import S3ObjectStore
from tests.fault.audit import assert_clean, audit_batch, report
from tests.fault.cluster import fault_cluster, fault_settings, voiceover_items
from tests.fault.s3_proxy import FaultyS3Proxy
from tests.fault.servers import RedisServer

pytestmark = [pytest.mark.fault, pytest.mark.postgres, pytest.mark.timeout(180)]

JOBS = 50
FAIL_RATIO = 0.1
OUTAGE_S = 4.0


def s3_url(endpoint_url: str, bucket: str) -> str:
    return (
        f"s3://{bucket}/fault?endpoint_url={endpoint_url}&region=us-east-1"
        "&access_key=test&secret_key=test"
    )


@pytest.fixture
def s3_proxy(s3_endpoint_url: str) -> Iterator[FaultyS3Proxy]:
    proxy = FaultyS3Proxy(s3_endpoint_url)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


def test_s3_errors_are_retried_and_every_artifact_lands_once(
    tmp_path: Path,
    fault_database_url: str,
    fault_redis: RedisServer,
    s3_endpoint_url: str,
    s3_proxy: FaultyS3Proxy,
) -> None:
    # Given workers storing artifacts in S3 through a proxy that fails 10% of the requests
    bucket = f"mediaq-fault-{secrets.token_hex(4)}"
    direct = open_object_store(s3_url(s3_endpoint_url, bucket))
    assert isinstance(direct, S3ObjectStore)
    direct.ensure_bucket()
    settings = fault_settings(
        tmp_path,
        database_url=fault_database_url,
        broker_url=fault_redis.url,
        storage_url=s3_url(s3_proxy.url, bucket),
    )
    with fault_cluster(settings, workers=1, concurrency=2) as cluster:
        s3_proxy.fail_ratio = FAIL_RATIO
        started = time.monotonic()
        batch_id = cluster.submit(voiceover_items(JOBS, prefix="s3"), params={})
        # When, mid-batch, every S3 request is answered 503 for a few seconds
        while cluster.stage_states(batch_id).get("succeeded", 0) < JOBS // 2:
            time.sleep(0.05)
        s3_proxy.outage(OUTAGE_S)
        cluster.wait_drained(batch_id, timeout_s=120)
        drain_s = time.monotonic() - started
        s3_proxy.fail_ratio = 0.0
        # Then every job succeeded and each artifact is stored and recorded once
        audit = audit_batch(
            db=cluster.db,
            store=direct,
            batch_id=batch_id,
            log_path=settings.data_dir / "worker.log",
        )
    retried = sum(1 for attempts in audit.stage_attempts.values() if attempts > 1)
    extra = f"s3_requests={s3_proxy.requests} stage_retries={retried}"
    report(
        "s3_errors",
        audit,
        faults=s3_proxy.injected,
        recovered=retried,
        drain_s=drain_s,
        extra=extra,
    )
    assert s3_proxy.injected > 0
    assert_clean(audit, accepted=JOBS)
