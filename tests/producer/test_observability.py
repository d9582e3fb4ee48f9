"""Structured JSON logs with work ids, and Celery task events for Flower on a Redis broker."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from producer.jsonlog import (
    ContextFilter,
    JsonFormatter,
    bind_log_context,
    configure_logging,
    log_context,
)
from producer.settings import Settings


@pytest.fixture
def json_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("mediaq.test.jsonlog")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_ids_of_the_enclosing_work(json_stream: io.StringIO) -> None:
    logger = logging.getLogger("mediaq.test.jsonlog")
    with log_context(stage_run_id="s1"):
        bind_log_context(batch_id="b1", job_id="j1", stage="tts")
        logger.info("rendered %d frames", 25, extra={"frames": 25, "shape": {"w": 2}, "raw": b"x"})
        with log_context(stage="compose"):
            try:
                raise ValueError("bad frame")
            except ValueError:
                logger.exception("failed")
    bind_log_context(job_id="j2")  # outside any block: ignored, or it would leak
    logger.info("outside")

    inside, failed, outside = lines(json_stream)
    assert inside["message"] == "rendered 25 frames" and inside["level"] == "INFO"
    assert (inside["batch_id"], inside["job_id"], inside["stage_run_id"]) == ("b1", "j1", "s1")
    assert inside["stage"] == "tts" and inside["frames"] == 25
    assert inside["shape"] == {"w": 2} and inside["raw"] == "b'x'"
    assert failed["stage"] == "compose" and "ValueError: bad frame" in failed["exc"]
    # the block's exit undoes both the block's ids and those bound inside it
    assert not {"batch_id", "job_id", "stage_run_id", "stage"} & set(outside)


def test_text_format_appends_the_ids(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging(log_format="text", level="INFO")
        with log_context(job_id="j9"):
            logging.getLogger("mediaq.test").info("hello")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert "INFO mediaq.test: hello [job_id=j9]" in capsys.readouterr().err


def submit_one(api_url: str, api_key: str) -> dict[str, Any]:
    from producer.client import Client

    body = {
        "template": "voiceover",
        "items": [
            {"custom_id": "obs-1", "language": "en", "headline": "Logs", "body": "A short test."}
        ],
    }
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {api_key}"}) as http:
        accepted = http.post("/v1/batches", json=body)
        assert accepted.status_code == 202, accepted.text
    client = Client(api_url, api_key=api_key)
    try:
        return client.wait_for_batch(accepted.json()["id"], timeout_s=120)
    finally:
        client.close()


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.timeout(240)
def test_worker_writes_json_logs_with_ids_and_sends_task_events(
    embedded_settings: Settings, redis_url: str
) -> None:
    from producer.broker import RUN_STAGE_TASK, make_celery
    from producer.embedded import embedded_system

    settings = embedded_settings.model_copy(update={"broker_url": redis_url, "log_format": "json"})
    events: list[dict[str, Any]] = []
    receiver_ready = threading.Event()
    app = make_celery(settings)

    def capture() -> None:
        with app.connection() as connection:
            receiver = app.events.Receiver(connection, handlers={"*": events.append}, app=app)
            receiver_ready.set()
            # idle after the test (a socket timeout): not the test's concern
            with contextlib.suppress(TimeoutError, OSError):
                receiver.capture(limit=None, timeout=120, wakeup=False)

    threading.Thread(target=capture, daemon=True).start()
    assert receiver_ready.wait(10)
    time.sleep(0.5)  # the receiver's queue is bound before the first task is sent
    with embedded_system(settings) as api:
        view = submit_one(api.url, api.api_key)
        assert view["counts"]["succeeded"] == 1, view
        time.sleep(1.0)  # the last events are in flight
    job_id = view["jobs"][0]["id"]

    # Then Flower would see every stage: sent by the API, received, started, succeeded
    by_type: dict[str, set[str]] = {}
    for event in events:
        if event.get("name", RUN_STAGE_TASK) == RUN_STAGE_TASK:
            by_type.setdefault(event["type"], set()).add(event.get("uuid", ""))
    for kind in ("task-received", "task-started", "task-succeeded"):
        assert len(by_type.get(kind, ())) >= 2, (kind, sorted(by_type))  # script and tts
    assert by_type.get("task-sent"), sorted(by_type)

    # And the worker's log is JSON lines naming the job, its batch and the stage run
    log_lines = (settings.data_dir / "worker.log").read_text().splitlines()
    records = [json.loads(line) for line in log_lines if line.startswith("{")]
    assert records, log_lines[:20]
    about_job = [r for r in records if r.get("job_id") == job_id]
    assert {r.get("stage") for r in about_job} >= {"script", "tts"}, about_job
    assert all(r["batch_id"] == view["id"] and r["stage_run_id"] for r in about_job)
