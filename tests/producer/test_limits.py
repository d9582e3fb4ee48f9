"""Per-key request rates and the per-tenant job quota: 429 with Retry-After, nothing half-done."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from producer.db import Database
from producer.keys import create_key
from producer.main import create_app
from producer.ratelimit import LocalBuckets, Rate, take_token
from producer.settings import Settings
from schemas.tables import Job, RateBucket
from tests.conftest import make_key
from tests.producer.test_api_batches import assert_problem

ITEM = {"language": "en", "headline": "Bridge reopens", "body": "The bridge reopened."}


def batch(*custom_ids: str) -> dict[str, Any]:
    return {"template": "voiceover", "items": [{**ITEM, "custom_id": c} for c in custom_ids]}


def client_for(settings: Settings, key: str) -> TestClient:
    return TestClient(create_app(settings), headers={"Authorization": f"Bearer {key}"})


def key_with(settings: Settings, **limits: Any) -> str:
    db = Database(settings.resolved_database_url())
    try:
        with db.session() as session:
            _, key = create_key(
                session=session,
                tenant_id="limited",
                scopes=["submit", "read"],
                name="limits",
                secret=settings.resolved_secret_key(),
                **limits,
            )
    finally:
        db.dispose()
    return key


def count_jobs(settings: Settings) -> int:
    db = Database(settings.resolved_database_url())
    try:
        with db.read_session() as session:
            return session.execute(select(func.count()).select_from(Job)).scalar_one()
    finally:
        db.dispose()


@pytest.fixture
def slow_settings(embedded_settings: Settings) -> Settings:
    return embedded_settings.model_copy(
        update={"submit_rate_per_s": 1.0, "submit_burst": 2, "read_rate_per_s": 0}
    )


def test_a_burst_over_the_submit_rate_gets_429_with_retry_after_then_ok_after_waiting(
    slow_settings: Settings,
) -> None:
    with client_for(slow_settings, make_key(slow_settings)) as client:
        assert client.post("/v1/batches", json=batch("a")).status_code == 202
        assert client.post("/v1/batches", json=batch("b")).status_code == 202
        refused = client.post("/v1/batches", json=batch("c"))
        body = assert_problem(refused, 429)
        assert body["type"] == "/problems/rate-limited" and body["limit"] == "submit_rate"
        assert body["rate_per_s"] == 1.0 and body["burst"] == 2
        retry_after = int(refused.headers["Retry-After"])
        assert 1 <= retry_after <= 2
        assert count_jobs(slow_settings) == 2
        assert client.get("/v1/batches").status_code == 200  # reads have their own bucket
        time.sleep(retry_after)
        assert client.post("/v1/batches", json=batch("c")).status_code == 202


def test_a_key_rate_overrides_the_default_and_reads_get_a_looser_bucket(
    embedded_settings: Settings,
) -> None:
    key = key_with(embedded_settings, rate_per_s=0.5)  # burst 1; reads 5/s, burst 10
    with client_for(embedded_settings, key) as client:
        assert client.post("/v1/batches", json=batch("a")).status_code == 202
        assert_problem(client.post("/v1/batches", json=batch("b")), 429)
        reads = [client.get("/v1/batches").status_code for _ in range(12)]
        assert reads[:10] == [200] * 10 and 429 in reads[10:]


def test_over_the_job_quota_the_whole_batch_is_refused_until_jobs_finish(
    embedded_settings: Settings,
) -> None:
    key = key_with(embedded_settings, max_jobs=3)
    with client_for(embedded_settings, key) as client:
        first = client.post("/v1/batches", json=batch("a", "b"))
        assert first.status_code == 202
        refused = client.post("/v1/batches", json=batch("c", "d"))
        body = assert_problem(refused, 429)
        assert body["type"] == "/problems/job-quota-exceeded"
        assert (body["unfinished"], body["adding"], body["max_jobs"]) == (2, 2, 3)
        assert int(refused.headers["Retry-After"]) > 0
        assert count_jobs(embedded_settings) == 2  # nothing of the refused batch was accepted
        assert client.post("/v1/batches", json=batch("e")).status_code == 202  # fits: 3 of 3
        assert client.post(f"/v1/batches/{first.json()['id']}/cancel").status_code == 200
        assert client.post("/v1/batches", json=batch("c", "d")).status_code == 202


def test_an_idempotent_replay_is_answered_even_at_the_quota(embedded_settings: Settings) -> None:
    key = key_with(embedded_settings, max_jobs=1)
    with client_for(embedded_settings, key) as client:
        headers = {"Idempotency-Key": "once"}
        first = client.post("/v1/batches", json=batch("a"), headers=headers)
        again = client.post("/v1/batches", json=batch("a"), headers=headers)
        assert (first.status_code, again.status_code) == (202, 202)
        assert again.json()["id"] == first.json()["id"]


@pytest.fixture
def replicas(embedded_settings: Settings) -> Iterator[list[Database]]:
    """Four database handles on one file: four API replicas sharing the buckets."""
    databases = [Database(embedded_settings.resolved_database_url()) for _ in range(4)]
    yield databases
    for db in databases:
        db.dispose()


def test_replicas_share_one_bucket_and_never_spend_a_token_twice(
    replicas: list[Database],
) -> None:
    rate = Rate(per_s=0.001, burst=10)  # no refill to speak of during the test
    with replicas[0].session() as session:
        assert take_token(session=session, key="k:submit", rate=rate) == 0.0  # creates the row
    granted: list[bool] = []
    lock = threading.Lock()

    def hammer(db: Database) -> None:
        for _ in range(10):
            with db.session() as session:
                ok = take_token(session=session, key="k:submit", rate=rate) == 0.0
            with lock:
                granted.append(ok)

    threads = [threading.Thread(target=hammer, args=(db,)) for db in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(True) == 9 and len(granted) == 40


def test_the_bucket_refills_at_its_rate_up_to_its_burst(replicas: list[Database]) -> None:
    rate = Rate(per_s=2.0, burst=3)
    with replicas[0].session() as session:
        taken = [take_token(session=session, key="r", rate=rate, now_s=100.0) for _ in range(4)]
        assert taken[:3] == [0.0, 0.0, 0.0] and taken[3] == pytest.approx(0.5)
        assert take_token(session=session, key="r", rate=rate, now_s=100.5) == 0.0
        assert take_token(session=session, key="r", rate=rate, now_s=100.5) > 0
        # a long pause refills to the burst, not beyond
        assert [take_token(session=session, key="r", rate=rate, now_s=1000.0) for _ in range(4)][
            3
        ] > 0


def test_keys_create_stores_the_rate_and_job_quota_given_on_the_command_line(
    embedded_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from producer.cli import main
    from schemas.tables import ApiKey

    data_dir = str(embedded_settings.data_dir)
    args = ["keys", "create", "--tenant", "t", "--data-dir", data_dir]
    assert main([*args, "--rate", "2.5", "--max-jobs", "40"]) == 0
    assert main([*args, "--rate", "0"]) != 0  # not a usable limit: refused, nothing stored
    assert "positive" in capsys.readouterr().err
    db = Database(embedded_settings.resolved_database_url())
    try:
        with db.read_session() as session:
            rows = session.execute(select(ApiKey).where(ApiKey.tenant_id == "t")).scalars().all()
    finally:
        db.dispose()
    assert [(row.rate_per_s, row.max_jobs) for row in rows] == [(2.5, 40)]


@pytest.mark.postgres
def test_on_postgres_the_bucket_and_the_quota_hold_across_connections(postgres_url: str) -> None:
    from uuid import uuid4

    from producer.migrate import upgrade
    from producer.quota import QuotaExceeded, check_job_quota
    from producer.submission import create_batch
    from schemas.api import BatchSpec
    from schemas.pipelines import builtin_templates

    upgrade(postgres_url)
    databases = [Database(postgres_url) for _ in range(4)]
    bucket, tenant = f"pg-{uuid4().hex}", f"pg-{uuid4().hex}"
    rate = Rate(per_s=0.001, burst=5)
    granted: list[bool] = []

    def hammer(db: Database) -> None:
        for _ in range(5):
            with db.session() as session:
                granted.append(take_token(session=session, key=bucket, rate=rate) == 0.0)

    try:
        with databases[0].session() as session:
            take_token(session=session, key=bucket, rate=rate)
        threads = [threading.Thread(target=hammer, args=(db,)) for db in databases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert granted.count(True) == 4 and len(granted) == 20
        spec = BatchSpec.model_validate(batch("a", "b"))
        with databases[1].session() as session:
            check_job_quota(session=session, tenant_id=tenant, max_jobs=3, adding=2)
            create_batch(
                session=session,
                tenant_id=tenant,
                spec=spec,
                template=builtin_templates()["voiceover"],
                idempotency=None,
            )
        with pytest.raises(QuotaExceeded), databases[2].session() as session:
            check_job_quota(session=session, tenant_id=tenant, max_jobs=3, adding=2)
    finally:
        for db in databases:
            db.dispose()


def test_read_buckets_refill_at_their_rate_in_memory_and_write_nothing() -> None:
    buckets = LocalBuckets()
    rate = Rate(per_s=2.0, burst=3)
    taken = [buckets.take(key="k:read", rate=rate, now_s=10.0) for _ in range(4)]
    assert taken[:3] == [0.0, 0.0, 0.0] and taken[3] == pytest.approx(0.5)
    assert buckets.take(key="k:read", rate=rate, now_s=10.5) == 0.0  # one token back
    assert buckets.take(key="other:read", rate=rate, now_s=10.5) == 0.0  # its own bucket
    assert [buckets.take(key="k:read", rate=rate, now_s=99.0) for _ in range(4)].count(0.0) == 3
    assert buckets.take(key="k:read", rate=Rate(per_s=0, burst=0)) == 0.0  # 0: no limit


def test_a_read_writes_no_bucket_row(embedded_settings: Settings) -> None:
    key = key_with(embedded_settings, rate_per_s=0.5)
    with client_for(embedded_settings, key) as client:
        assert client.get("/v1/batches").status_code == 200
    db = Database(embedded_settings.resolved_database_url())
    try:
        with db.read_session() as session:
            assert session.execute(select(func.count()).select_from(RateBucket)).scalar_one() == 0
    finally:
        db.dispose()
