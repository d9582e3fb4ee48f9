"""Cancel reaches a running stage: real worker process, a long anchor render stopped mid-way."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from producer.db import Database
from producer.embedded import embedded_system
from producer.settings import Settings
from schemas.tables import Provenance

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SENTENCE = (
    "The harbor bridge reopened on Tuesday after crews replaced 1,240 meters of decking, "
    "and traffic engineers expect the morning queues to shorten by a quarter. "
)
ARTICLE = {
    "custom_id": "long-read",
    "language": "en",
    "headline": "Harbor bridge reopens after a year of repairs",
    "body": SENTENCE * 40,
}
# about two minutes of narration: the anchor render alone takes far longer than the test waits
LONG = {"script": {"target_duration_s": 120}}


def stage_of(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(stage for stage in job["stages"] if stage["name"] == name)


def wait_until(predicate: Any, *, timeout_s: float, every_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"not within {timeout_s} s")


def stored_objects(settings: Settings) -> set[Path]:
    root = settings.data_dir / "objects"
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


def test_canceling_a_job_stops_its_running_anchor_render_and_publishes_nothing(
    embedded_settings: Settings,
) -> None:
    settings = embedded_settings
    log_path = settings.data_dir / "worker.log"
    with (
        embedded_system(settings, concurrency=1) as api,
        httpx.Client(
            base_url=api.url, timeout=30, headers={"Authorization": f"Bearer {api.api_key}"}
        ) as http,
    ):
        # Given a news_anchor job whose anchor stage is rendering
        accepted = http.post(
            "/v1/batches", json={"template": "news_anchor", "items": [ARTICLE], "params": LONG}
        )
        assert accepted.status_code == 202, accepted.text
        job_url = f"/v1/jobs/{accepted.json()['jobs'][0]['id']}"
        job = wait_until(
            lambda: (
                (j := http.get(job_url).json())
                and stage_of(j, "anchor")["state"] == "running"
                and j
            ),
            timeout_s=120,
        )
        anchor_id = _stage_id(settings, job["id"], "anchor")
        time.sleep(1.0)  # well into the render
        before = stored_objects(settings)
        # When the job is canceled
        started = time.monotonic()
        assert http.post(f"{job_url}/cancel").json()["canceled_stages"] >= 1
        # Then the worker stops the render within seconds, not after the whole video
        line = f"stage run {anchor_id}: canceled"
        wait_until(lambda: line in log_path.read_text(errors="replace"), timeout_s=10)
        stopped_s = time.monotonic() - started
        job = http.get(job_url).json()
        assert job["state"] == "canceled" and stage_of(job, "anchor")["state"] == "canceled"
        assert stage_of(job, "anchor")["outputs"] == []
        # and nothing of the anchor stage was published: no record, no new object
        assert _provenance_rows(settings, anchor_id) == 0
        assert stored_objects(settings) == before
    assert stopped_s < 10


def _provenance_rows(settings: Settings, stage_run_id: str) -> int:
    db = Database(settings.resolved_database_url())
    try:
        with db.read_session() as session:
            return len(
                session.execute(
                    select(Provenance.artifact_digest).where(
                        Provenance.stage_run_id == stage_run_id
                    )
                ).all()
            )
    finally:
        db.dispose()


@pytest.mark.redis
def test_on_redis_a_canceled_queued_stage_is_revoked_and_discarded_by_the_worker(
    embedded_settings: Settings, redis_url: str
) -> None:
    from tests import services

    services.flush_redis(url=redis_url)
    settings = embedded_settings.model_copy(update={"broker_url": redis_url})
    log_path = settings.data_dir / "worker.log"
    with (
        embedded_system(settings, concurrency=1) as api,
        httpx.Client(
            base_url=api.url, timeout=30, headers={"Authorization": f"Bearer {api.api_key}"}
        ) as http,
    ):
        # Given the only worker busy rendering, and a second job waiting in Redis behind it
        busy = http.post(
            "/v1/batches", json={"template": "news_anchor", "items": [ARTICLE], "params": LONG}
        ).json()
        busy_url = f"/v1/jobs/{busy['jobs'][0]['id']}"
        wait_until(
            lambda: stage_of(http.get(busy_url).json(), "anchor")["state"] == "running",
            timeout_s=120,
        )
        waiting = http.post(
            "/v1/batches", json={"template": "voiceover", "items": [{**ARTICLE, "custom_id": "w"}]}
        ).json()
        waiting_url = f"/v1/jobs/{waiting['jobs'][0]['id']}"
        script_id = _stage_id(settings, waiting["jobs"][0]["id"], "script")
        # When the waiting job is canceled (revoked), then the busy one (stopped)
        assert http.post(f"{waiting_url}/cancel").status_code == 200
        assert http.post(f"{busy_url}/cancel").status_code == 200
        # Then the worker drops the waiting job's message as revoked, without claiming it
        wait_until(
            lambda: (
                f"Discarding revoked task: mediaq.run_stage[{script_id}]"
                in log_path.read_text(errors="replace")
            ),
            timeout_s=30,
        )
        assert f"stage run {script_id}:" not in log_path.read_text(errors="replace")
    services.flush_redis(url=redis_url)


def _stage_id(settings: Settings, job_id: str, name: str) -> str:
    from schemas.tables import StageRun

    db = Database(settings.resolved_database_url())
    try:
        with db.read_session() as session:
            return session.execute(
                select(StageRun.id).where(StageRun.job_id == job_id, StageRun.name == name)
            ).scalar_one()
    finally:
        db.dispose()
