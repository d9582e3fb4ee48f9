"""The schedules API: create, list, read, pause, resume, delete, run now, runs; 422s; tenants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from schemas.tables import ScheduleRun
from tests.conftest import make_key
from tests.producer.test_api_batches import assert_problem, news_items


def schedule_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "weekday drop",
        "cron": "30 6 * * 1-5",
        "timezone": "Europe/Berlin",
        "template": "voiceover",
        "items": news_items()[:3],
        "priority": 7,
        "metadata": {"desk": "news"},
        "deadline_offset": "PT45M",
    }
    return body | overrides


def create(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/v1/schedules", json=schedule_body(**overrides))
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/v1/schedules/{response.json()['id']}"
    return response.json()


def test_a_created_schedule_reads_back_with_its_next_run_in_the_time_zone(
    api_client: TestClient,
) -> None:
    made = create(api_client)
    assert made["source"] == "items" and made["item_count"] == 3
    assert made["deadline_offset_s"] == 2700 and made["missed_runs"] == "skip"
    next_run = datetime.fromisoformat(made["next_run_at"])
    # 06:30 in Berlin is 05:30 UTC in winter and 04:30 UTC in summer, on a weekday
    assert (next_run.hour, next_run.minute) in ((5, 30), (4, 30)) and next_run.weekday() < 5
    assert api_client.get(f"/v1/schedules/{made['id']}").json() == made


def test_schedules_list_newest_first_in_pages(api_client: TestClient) -> None:
    ids = [create(api_client, name=f"s{n}")["id"] for n in range(3)]
    first = api_client.get("/v1/schedules", params={"limit": 2}).json()
    assert [s["id"] for s in first["schedules"]] == ids[::-1][:2] and first["next_cursor"]
    rest = api_client.get("/v1/schedules", params={"limit": 2, "cursor": first["next_cursor"]})
    assert [s["id"] for s in rest.json()["schedules"]] == ids[:1]
    assert rest.json()["next_cursor"] is None


def test_pause_and_resume(api_client: TestClient) -> None:
    made = create(api_client)
    paused = api_client.post(f"/v1/schedules/{made['id']}/pause")
    assert paused.status_code == 200 and paused.json()["is_paused"] is True
    resumed = api_client.post(f"/v1/schedules/{made['id']}/resume").json()
    assert resumed["is_paused"] is False and resumed["next_run_at"] == made["next_run_at"]


def test_delete_removes_the_schedule_and_its_runs_but_not_its_batches(
    api_client: TestClient,
) -> None:
    made = create(api_client)
    run = api_client.post(f"/v1/schedules/{made['id']}/run").json()
    assert api_client.delete(f"/v1/schedules/{made['id']}").status_code == 204
    assert_problem(api_client.get(f"/v1/schedules/{made['id']}"), 404)
    assert_problem(api_client.delete(f"/v1/schedules/{made['id']}"), 404)
    assert api_client.get(f"/v1/batches/{run['batch_id']}").status_code == 200
    with api_client.app.state.services.db.read_session() as session:
        assert session.get(ScheduleRun, run["id"]) is None


def test_run_now_creates_a_batch_recording_the_schedule(api_client: TestClient) -> None:
    made = create(api_client)
    response = api_client.post(f"/v1/schedules/{made['id']}/run")
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["outcome"] == "created" and run["trigger"] == "manual" and run["item_count"] == 3
    batch = api_client.get(f"/v1/batches/{run['batch_id']}").json()
    assert batch["item_count"] == 3 and batch["priority"] == 7
    assert batch["metadata"]["schedule_id"] == made["id"]
    assert batch["metadata"]["scheduled_for"] == run["scheduled_for"]
    assert batch["metadata"]["desk"] == "news"
    runs = api_client.get(f"/v1/schedules/{made['id']}/runs").json()
    assert [r["id"] for r in runs["runs"]] == [run["id"]]


def test_run_now_retried_with_its_idempotency_key_runs_once(api_client: TestClient) -> None:
    # Given a schedule run now with an Idempotency-Key
    made = create(api_client)
    key = {"Idempotency-Key": "drop-0630-rerun"}
    first = api_client.post(f"/v1/schedules/{made['id']}/run", headers=key)
    assert first.status_code == 202 and "Idempotent-Replayed" not in first.headers
    # When the client retries with the same key
    again = api_client.post(f"/v1/schedules/{made['id']}/run", headers=key)
    # Then it gets the first run back, and no second run or batch exists
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["Location"] == f"/v1/batches/{first.json()['batch_id']}"
    runs = api_client.get(f"/v1/schedules/{made['id']}/runs").json()["runs"]
    assert [r["id"] for r in runs] == [first.json()["id"]]
    assert len(api_client.get("/v1/batches").json()["batches"]) == 1
    # and the key on another schedule, or on a batch, is a reused key
    other = create(api_client)
    assert_problem(
        api_client.post(f"/v1/schedules/{other['id']}/run", headers=key), 422, "Idempotency-Key"
    )
    batch = api_client.post(
        "/v1/batches", json={"template": "voiceover", "items": news_items()[:1]}, headers=key
    )
    assert_problem(batch, 422, "Idempotency-Key")
    # while another key runs it again
    fresh = api_client.post(f"/v1/schedules/{made['id']}/run", headers={"Idempotency-Key": "b"})
    assert fresh.status_code == 202 and fresh.json()["id"] != first.json()["id"]


def test_run_now_with_items_that_fail_validation_records_a_failed_run(
    api_client: TestClient, embedded_settings: Any
) -> None:
    made = create(api_client, items=news_items()[:1])
    # the inline items were valid at creation; a lower limit now refuses them
    api_client.app.state.services.settings.max_items = 0
    run = api_client.post(f"/v1/schedules/{made['id']}/run").json()
    assert run["outcome"] == "failed" and run["batch_id"] is None
    assert "MEDIAQ_MAX_ITEMS" in run["error"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cron": "61 6 * * *"}, "cron"),
        ({"cron": "30 6 * *"}, "cron"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"template": "no_such_template"}, "template"),
        ({"priority": 10}, "priority"),
        ({"deadline_offset": "P-1D"}, "deadline_offset"),
        ({"deadline_offset": 0}, "deadline_offset"),
        ({"missed_runs": "always"}, "missed_runs"),
        ({"feed": "https://example.com/feed.jsonl"}, "feed"),
        ({"items": None}, "items"),
        ({"items": None, "feed": "ftp://example.com/x.csv"}, "feed"),
        ({"items": None, "feed": "http://example.com/x.csv"}, "feed"),
        ({"items": None, "prefix": "../other"}, "prefix"),
        ({"items": [{"custom_id": "a"}]}, "items[0].language"),
        ({"params": {"nope": {}}}, "params.nope"),
        ({"webhook_endpoint_id": "unknown"}, "webhook_endpoint_id"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_schedules_are_refused_naming_the_field(
    api_client: TestClient, overrides: dict[str, Any], field: str
) -> None:
    response = api_client.post("/v1/schedules", json=schedule_body(**overrides))
    assert_problem(response, 422, field)


def test_another_tenant_gets_404_for_every_schedule_operation(
    api_client: TestClient, embedded_settings: Any
) -> None:
    made = create(api_client)
    other = {"Authorization": f"Bearer {make_key(embedded_settings, tenant='shop')}"}
    base = f"/v1/schedules/{made['id']}"
    for method, path in [
        ("GET", base),
        ("POST", f"{base}/pause"),
        ("POST", f"{base}/resume"),
        ("POST", f"{base}/run"),
        ("GET", f"{base}/runs"),
        ("DELETE", base),
    ]:
        assert_problem(api_client.request(method, path, headers=other), 404)
    listed = api_client.get("/v1/schedules", headers=other).json()
    assert listed["schedules"] == []
    assert api_client.get(base).status_code == 200


def test_a_read_only_key_lists_but_cannot_change_schedules(
    api_client: TestClient, embedded_settings: Any
) -> None:
    made = create(api_client)
    reader = {"Authorization": f"Bearer {make_key(embedded_settings, scopes=('read',))}"}
    assert api_client.get("/v1/schedules", headers=reader).status_code == 200
    assert_problem(api_client.post(f"/v1/schedules/{made['id']}/run", headers=reader), 403)
    assert_problem(api_client.post("/v1/schedules", json=schedule_body(), headers=reader), 403)


@pytest.fixture
def postgres_client(postgres_url: str, tmp_path: Any) -> Any:
    from producer.main import create_app
    from producer.migrate import upgrade
    from producer.settings import Settings

    settings = Settings(
        data_dir=tmp_path / "data", database_url=postgres_url, broker_url="", storage_url=""
    )
    settings.data_dir.mkdir(parents=True)
    upgrade(postgres_url)
    key = make_key(settings, tenant=f"sched-{tmp_path.name[-12:]}")
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


@pytest.mark.postgres
def test_values_postgres_cannot_store_are_refused_before_they_reach_it(
    postgres_client: TestClient,
) -> None:
    for overrides, field in [
        ({"name": "a\x00b"}, "name"),
        ({"timezone": "UTC\x00"}, "timezone"),
        ({"items": None, "prefix": "a\x00b"}, "prefix"),
        ({"webhook_endpoint_id": "a\x00b"}, "webhook_endpoint_id"),
        ({"items": [news_items()[0] | {"custom_id": "a\x00b"}]}, "items[0].custom_id"),
    ]:
        response = postgres_client.post("/v1/schedules", json=schedule_body(**overrides))
        assert_problem(response, 422, field)
    assert_problem(postgres_client.get("/v1/schedules/a%00b"), 404)
    assert_problem(postgres_client.post("/v1/schedules/a%00b/run"), 404)
    made = create(postgres_client, metadata={"k\x00": "v\x00"})
    run = postgres_client.post(f"/v1/schedules/{made['id']}/run").json()
    assert run["outcome"] == "created", run
    postgres_client.delete(f"/v1/schedules/{made['id']}")
