"""GET /v1/events over real HTTP: a batch on the embedded default, live, resumed, isolated."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from producer.embedded import ApiThread, embedded_system
from producer.settings import Settings
from tests.conftest import make_key
from tests.producer.test_events import short_item

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@dataclass(frozen=True)
class Message:
    id: int | None  # None: a comment
    event: str
    data: dict[str, Any] | None


def read_stream(
    url: str,
    key: str,
    *,
    params: dict[str, Any],
    headers: dict[str, str] | None = None,
    until: str = "batch.completed",
    timeout_s: float = 60,
) -> list[Message]:
    """Read SSE messages, as a fetch() reader would, until an `until` event (or a ping)."""
    messages: list[Message] = []
    fields: dict[str, str] = {}
    deadline = time.monotonic() + timeout_s
    with httpx.stream(
        "GET",
        f"{url}/v1/events",
        params=params,
        headers={"Authorization": f"Bearer {key}", **(headers or {})},
        timeout=timeout_s,
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            assert time.monotonic() < deadline, "the stream never got there"
            if line.startswith(":"):
                messages.append(Message(None, line, None))
                if until == "ping":
                    return messages
            elif line:
                name, _, value = line.partition(": ")
                fields[name] = value
            elif fields:
                message = Message(int(fields["id"]), fields["event"], json.loads(fields["data"]))
                messages.append(message)
                fields = {}
                if message.event == until:
                    return messages
    raise AssertionError("the stream ended")


@pytest.fixture
def api(embedded_settings: Settings) -> Iterator[ApiThread]:
    settings = embedded_settings.model_copy(update={"events_poll_s": 0.1, "events_ping_s": 0.5})
    with embedded_system(settings, concurrency=2) as running:
        yield running


def test_a_live_stream_follows_a_batch_to_completion_and_resumes(
    api: ApiThread, embedded_settings: Settings
) -> None:
    # Given a stream opened from now, before anything happens
    collected: list[Message] = []
    live = threading.Thread(
        target=lambda: collected.extend(read_stream(api.url, api.api_key, params={})),
        daemon=True,
    )
    live.start()
    time.sleep(0.5)
    # When a batch of two short items runs on a real worker
    http = httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {api.api_key}"})
    items = [short_item("one"), short_item("two")]
    accepted = http.post("/v1/batches", json={"template": "voiceover", "items": items}).json()
    batch_id = accepted["id"]
    live.join(timeout=120)
    # Then the stream carried the batch from batch.created through job.updated to completion
    events = [m for m in collected if m.id is not None]
    assert events[0].event == "batch.created" and events[-1].event == "batch.completed"
    assert all(m.data and m.data["batch_id"] == batch_id for m in events)
    updates = [m for m in events if m.event == "job.updated"]
    assert {m.data["job_id"] for m in updates} == {job["id"] for job in accepted["jobs"]}
    assert {m.data["stage"] for m in updates} == {"script", "tts"}
    assert [m.event for m in events].count("job.succeeded") == 2
    assert events[-1].data["counts"]["succeeded"] == 2
    # And the same stream filtered to the batch, from the start, holds the same messages
    replay = read_stream(api.url, api.api_key, params={"batch_id": batch_id, "after": 0})
    assert [m for m in replay if m.id is not None] == events
    # When a client resumes with Last-Event-ID, Then it gets exactly the later events
    middle = events[len(events) // 2]
    resumed = read_stream(
        api.url,
        api.api_key,
        params={"batch_id": batch_id},
        headers={"Last-Event-ID": str(middle.id)},
    )
    assert [m for m in resumed if m.id is not None] == [m for m in events if m.id > middle.id]
    # And a stream for one job holds only that job's events
    job_id = accepted["jobs"][0]["id"]
    one_job = read_stream(
        api.url, api.api_key, params={"job_id": job_id, "after": 0}, until="job.succeeded"
    )
    assert {m.data["job_id"] for m in one_job if m.data} == {job_id}
    # And another tenant, even reading from the very start, sees none of it
    other = make_key(embedded_settings, tenant="someone-else")
    assert [m.id for m in read_stream(api.url, other, params={"after": 0}, until="ping")] == [None]
    http.close()


def test_the_stream_refuses_bad_cursors_and_missing_keys(api_client: TestClient) -> None:
    anonymous = TestClient(api_client.app)
    assert anonymous.get("/v1/events").status_code == 401
    bad = api_client.get("/v1/events", headers={"Last-Event-ID": "abc"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert api_client.get("/v1/events", params={"after": -1}).status_code == 422


def test_a_stream_stops_polling_when_its_client_goes(
    embedded_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from producer.api import events as events_api

    polls: list[int] = []
    real_read = events_api.read_events

    def counted(*args: Any, **kwargs: Any) -> list[Any]:
        polls.append(1)
        return real_read(*args, **kwargs)

    monkeypatch.setattr(events_api, "read_events", counted)
    settings = embedded_settings.model_copy(update={"events_poll_s": 0.05, "events_ping_s": 0.2})
    api = ApiThread(settings)
    api.start()
    try:
        api.wait_started()
        # Given an open stream that has polled a few times (a ping proves it is live)
        assert read_stream(api.url, api.api_key, params={}, until="ping")[-1].id is None
        # When the client has gone, Then the polls stop within a poll or two
        time.sleep(0.5)
        settled = len(polls)
        time.sleep(1.0)
        assert len(polls) <= settled + 1, (settled, len(polls))
    finally:
        api.stop()
