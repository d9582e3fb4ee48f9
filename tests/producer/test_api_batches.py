"""The batch API: submission formats, idempotency, limits, unknown ids, cancellation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from producer.main import create_app
from producer.settings import Settings
from tests.conftest import make_key

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NEWS = EXAMPLES / "news" / "batch.jsonl"
CATALOG = EXAMPLES / "products" / "catalog.csv"


def news_items() -> list[dict[str, Any]]:
    return [json.loads(line) for line in NEWS.read_text(encoding="utf-8").splitlines() if line]


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["type"].startswith("/problems/") and body["detail"]
    if field is not None:
        assert field in [e["field"] for e in body.get("errors") or []], body
    return body


def test_json_batch_is_accepted_with_a_job_per_item_keeping_custom_ids(
    api_client: TestClient,
) -> None:
    items = news_items()
    response = api_client.post(
        "/v1/batches", json={"template": "voiceover", "items": items, "priority": 7}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert [j["custom_id"] for j in body["jobs"]] == [i["custom_id"] for i in items]
    assert len({j["id"] for j in body["jobs"]}) == 12
    view = api_client.get(body["status_url"]).json()
    assert view["item_count"] == 12 and view["counts"]["queued"] == 12 and view["priority"] == 7
    assert view["percent_done"] == 0 and view["completed_at"] is None
    job = api_client.get(f"/v1/jobs/{body['jobs'][0]['id']}").json()
    assert [(s["name"], s["state"]) for s in job["stages"]] == [
        ("script", "queued"),
        ("tts", "pending"),
    ]


def test_jsonl_file_is_accepted_as_raw_body_and_as_multipart(api_client: TestClient) -> None:
    raw = api_client.post(
        "/v1/batches?template=voiceover",
        content=NEWS.read_bytes(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert raw.status_code == 202, raw.text
    multipart = api_client.post(
        "/v1/batches",
        files={"file": ("batch.jsonl", NEWS.read_bytes(), "application/octet-stream")},
        data={"template": "voiceover", "priority": "9", "metadata": '{"desk": "night"}'},
    )
    assert multipart.status_code == 202, multipart.text
    view = api_client.get(multipart.json()["status_url"]).json()
    assert view["priority"] == 9 and view["metadata"] == {"desk": "night"}


def test_product_csv_is_accepted_as_it_is_with_sku_as_custom_id(api_client: TestClient) -> None:
    response = api_client.post(
        "/v1/batches",
        files={"file": ("catalog.csv", CATALOG.read_bytes(), "text/csv")},
        data={"template": "voiceover"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["jobs"][0]["custom_id"] == "MUG-TC-350"
    assert response.json()["item_count"] == 10


def test_idempotency_key_replays_the_first_response_and_creates_nothing(
    api_client: TestClient,
) -> None:
    spec = {"template": "voiceover", "items": news_items()[:2]}
    first = api_client.post("/v1/batches", json=spec, headers={"Idempotency-Key": "k-1"})
    again = api_client.post("/v1/batches", json=spec, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(api_client.get("/v1/batches").json()["batches"]) == 1


def test_idempotency_key_with_another_body_is_refused(api_client: TestClient) -> None:
    items = news_items()
    api_client.post(
        "/v1/batches",
        json={"template": "voiceover", "items": items[:1]},
        headers={"Idempotency-Key": "k"},
    )
    response = api_client.post(
        "/v1/batches",
        json={"template": "voiceover", "items": items[1:2]},
        headers={"Idempotency-Key": "k"},
    )
    assert_problem(response, 422, "Idempotency-Key")
    assert len(api_client.get("/v1/batches").json()["batches"]) == 1


def test_unknown_template_is_a_422_naming_the_field(api_client: TestClient) -> None:
    response = api_client.post("/v1/batches", json={"template": "nope", "items": news_items()[:1]})
    body = assert_problem(response, 422, "template")
    assert "voiceover" in body["detail"]


def test_invalid_items_name_each_bad_field(api_client: TestClient) -> None:
    items = news_items()[:3]
    del items[1]["body"]
    items[2]["language"] = "tlh"
    items.append(dict(items[0]))
    response = api_client.post("/v1/batches", json={"template": "voiceover", "items": items})
    body = assert_problem(response, 422)
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"items[1].body", "items[2].language", "items[3].custom_id"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [{"custom_id": "a"}]}, "template"),
        ({"template": "voiceover", "items": []}, "items"),
        (
            {
                "template": "voiceover",
                "items": [{"custom_id": "a", "language": "en", "title": "t"}],
                "priority": 12,
            },
            "priority",
        ),
        (
            {
                "template": "voiceover",
                "items": [{"custom_id": "a", "language": "en", "title": "t"}],
                "colour": 1,
            },
            "colour",
        ),
    ],
)
def test_malformed_spec_is_a_422_naming_the_field(
    api_client: TestClient, body: dict[str, Any], field: str
) -> None:
    assert_problem(api_client.post("/v1/batches", json=body), 422, field)


def test_broken_jsonl_line_is_named(api_client: TestClient) -> None:
    data = NEWS.read_bytes().splitlines()
    data[3] = b"{not json"
    response = api_client.post(
        "/v1/batches?template=voiceover",
        content=b"\n".join(data),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert_problem(response, 422, "line 4")


def test_unsupported_media_type_is_a_415(api_client: TestClient) -> None:
    response = api_client.post(
        "/v1/batches", content=b"<xml/>", headers={"Content-Type": "application/xml"}
    )
    assert_problem(response, 415)


def limited_client(settings: Settings, **limits: int) -> TestClient:
    key = make_key(settings)
    return TestClient(
        create_app(settings.model_copy(update=limits)), headers={"Authorization": f"Bearer {key}"}
    )


def test_body_over_the_limit_is_a_413(embedded_settings: Settings) -> None:
    with limited_client(embedded_settings, max_body_bytes=1000) as client:
        response = client.post("/v1/batches", json={"template": "voiceover", "items": news_items()})
        assert_problem(response, 413)
        chunked = client.post(
            "/v1/batches?template=voiceover",
            content=iter([NEWS.read_bytes()]),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert_problem(chunked, 413)


def test_too_many_items_is_a_413_and_long_text_a_422(embedded_settings: Settings) -> None:
    with limited_client(embedded_settings, max_items=5, max_text_chars=500) as client:
        assert_problem(
            client.post("/v1/batches", json={"template": "voiceover", "items": news_items()}), 413
        )
        item = {"custom_id": "a", "language": "en", "title": "x" * 501}
        assert_problem(
            client.post("/v1/batches", json={"template": "voiceover", "items": [item]}),
            422,
            "items[0].title",
        )
        assert client.get("/v1/batches").json()["batches"] == []


def test_unknown_ids_are_404_problems(api_client: TestClient) -> None:
    assert_problem(api_client.get("/v1/batches/0123"), 404)
    assert_problem(api_client.get("/v1/jobs/0123"), 404)
    assert_problem(api_client.post("/v1/jobs/0123/cancel"), 404)
    assert_problem(api_client.post("/v1/batches/0123/cancel"), 404)
    assert_problem(api_client.get("/v1/templates/nope"), 404)
    assert_problem(api_client.get("/v1/artifacts/" + "a" * 64), 404)
    assert_problem(api_client.get("/v1/artifacts/" + "a" * 64 + "/provenance"), 404)
    assert_problem(api_client.get("/v1/artifacts/../../etc/passwd"), 404)
    assert_problem(api_client.get("/v1/artifacts/not-a-digest"), 422, "digest")


def test_cancel_job_and_batch_cancel_every_unfinished_stage(api_client: TestClient) -> None:
    body = api_client.post(
        "/v1/batches", json={"template": "voiceover", "items": news_items()[:3]}
    ).json()
    first = body["jobs"][0]["id"]
    result = api_client.post(f"/v1/jobs/{first}/cancel").json()
    assert result == {"id": first, "canceled_jobs": 1, "canceled_stages": 2}
    job = api_client.get(f"/v1/jobs/{first}").json()
    assert job["state"] == "canceled"
    assert {s["state"] for s in job["stages"]} == {"canceled"}
    assert {s["error_class"] for s in job["stages"]} == {"canceled"}
    result = api_client.post(f"/v1/batches/{body['id']}/cancel").json()
    assert result["canceled_jobs"] == 2
    view = api_client.get(body["status_url"]).json()
    assert view["counts"]["canceled"] == 3 and view["percent_done"] == 100
    assert view["canceled_at"] is not None and view["completed_at"] is not None


def test_batches_list_is_paginated_newest_first(api_client: TestClient) -> None:
    ids = [
        api_client.post(
            "/v1/batches", json={"template": "voiceover", "items": news_items()[:1]}
        ).json()["id"]
        for _ in range(3)
    ]
    page = api_client.get("/v1/batches?limit=2").json()
    assert [b["id"] for b in page["batches"]] == ids[::-1][:2]
    rest = api_client.get(f"/v1/batches?limit=2&cursor={page['next_cursor']}").json()
    assert [b["id"] for b in rest["batches"]] == [ids[0]] and rest["next_cursor"] is None
    assert_problem(api_client.get("/v1/batches?cursor=garbage"), 422, "cursor")


def test_batch_jobs_are_paginated_in_submission_order(api_client: TestClient) -> None:
    items = news_items()
    body = api_client.post("/v1/batches", json={"template": "voiceover", "items": items}).json()
    page = api_client.get(f"{body['status_url']}?jobs_offset=10&jobs_limit=5").json()
    assert [j["custom_id"] for j in page["jobs"]] == [i["custom_id"] for i in items[10:]]


def test_templates_are_listed_and_fetched(api_client: TestClient) -> None:
    names = [t["name"] for t in api_client.get("/v1/templates").json()]
    assert "voiceover" in names
    voiceover = api_client.get("/v1/templates/voiceover").json()
    assert [s["kind"] for s in voiceover["stages"]] == ["script", "tts"]


def test_openapi_lists_every_endpoint(api_client: TestClient) -> None:
    paths = api_client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/batches",
        "/v1/batches/{batch_id}",
        "/v1/batches/{batch_id}/cancel",
        "/v1/batches/{batch_id}/retry",
        "/v1/jobs/{job_id}",
        "/v1/jobs/{job_id}/cancel",
        "/v1/jobs/{job_id}/retry",
        "/v1/templates",
        "/v1/templates/{name}",
        "/v1/artifacts/{digest}",
        "/v1/artifacts/{digest}/provenance",
        "/healthz",
        "/readyz",
    ):
        assert path in paths, path


def test_health_and_readiness_on_the_embedded_default(api_client: TestClient) -> None:
    assert api_client.get("/healthz").json() == {"status": "ok"}
    ready = api_client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "object_store": "ok"}


def test_readiness_is_a_503_naming_the_broker_when_it_is_down(embedded_settings: Settings) -> None:
    from tests.services import find_free_port

    dead = f"redis://127.0.0.1:{find_free_port()}/0"
    with TestClient(
        create_app(embedded_settings.model_copy(update={"broker_url": dead}))
    ) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
        checks = response.json()["checks"]
        assert checks["database"] == "ok" and checks["broker"].startswith("error")


def test_engine_overrides_switch_a_stage_to_its_neural_engine_on_the_gpu_queue(
    api_client: TestClient,
) -> None:
    body = {"template": "voiceover", "items": news_items()[:1], "engines": {"tts": "vits"}}
    accepted = api_client.post("/v1/batches", json=body)
    assert accepted.status_code == 202, accepted.text
    job = api_client.get(f"/v1/jobs/{accepted.json()['jobs'][0]['id']}").json()
    assert [(s["name"], s["engine"]) for s in job["stages"]] == [
        ("script", "extractive"),
        ("tts", "vits"),
    ]
    from sqlalchemy import select

    from schemas.tables import StageRun

    db = api_client.app.state.services.db
    with db.read_session() as session:
        queues = dict(session.execute(select(StageRun.name, StageRun.queue)).all())
    assert queues == {"script": "cpu", "tts": "gpu"}


@pytest.mark.parametrize(
    ("engines", "detail"),
    [
        ({"tts": "festival"}, "unknown engine 'festival' (known: espeak, vits)"),
        ({"dance": "vits"}, "no such stage in the template"),
    ],
)
def test_bad_engine_overrides_are_a_422(
    api_client: TestClient, engines: dict[str, str], detail: str
) -> None:
    body = {"template": "voiceover", "items": news_items()[:1], "engines": engines}
    problem = assert_problem(api_client.post("/v1/batches", json=body), 422)
    assert problem["errors"][0]["detail"] == detail
