"""Schemathesis against the real app's /openapi.json: no 5xx, and every response as documented.

On the embedded settings: every operation with a valid key; the /v1 operations with no key and the
writes with a read-only one (refusals must be documented problems too); then hypothesis-built
submissions from the real templates in every body type, followed through to the batch, job, list,
cancel, asset and artifact reads, each answer checked by schemathesis (generated bodies alone
almost never name a real template, so they stop at the first 422). The last runs repeat on
PostgreSQL (marker `postgres`), which refuses what SQLite stores: NUL, over-long strings.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import httpx2
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from producer.queries import encode_cursor
from tests.conftest import make_key
from tests.fuzz.strategies import (
    UPLOAD_NAME,
    as_csv,
    as_jsonl,
    batch_bodies,
    nasty_text,
    valid_bodies,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
BODY_TYPES = ["application/json", "application/x-ndjson", "text/csv", "multipart/form-data"]
# one app and database per test, shared by its examples on purpose
SHARED_APP = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
# these tests fuzz inputs, not the rate limits: a fast run of 40 submissions with their
# cancels and retries would otherwise meet the per-key 429s (tests/producer/test_limits.py)
UNLIMITED = {"MEDIAQ_SUBMIT_RATE_PER_S": "0", "MEDIAQ_READ_RATE_PER_S": "0"}


@pytest.fixture(autouse=True)
def unlimited(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in UNLIMITED.items():
        monkeypatch.setenv(name, value)


def _served_openapi() -> dict[str, Any]:
    """/openapi.json as the app serves it (on a throwaway embedded folder: no env settings)."""
    from producer.main import create_app
    from producer.settings import Settings

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), database_url="", broker_url="", storage_url="")
        app = create_app(settings)
        try:
            return TestClient(app).get("/openapi.json").json()
        finally:
            app.state.services.db.dispose()


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """The body as sent: text as is; a negative (non-string) value as one JSON document a line."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    lines = value if isinstance(value, list) else [value]
    return "\n".join(json.dumps(line) for line in lines).encode("utf-8")


OPENAPI = _served_openapi()
schema = schemathesis.openapi.from_dict(
    OPENAPI,
    config=SchemathesisConfig.from_dict({"generation": {"max-examples": 30, "database": "none"}}),
)


def _auth(client: TestClient) -> dict[str, str]:
    return {"Authorization": client.headers["Authorization"]}


def test_the_openapi_document_resolves_and_offers_every_body_type() -> None:
    components = {f"#/components/schemas/{name}" for name in OPENAPI["components"]["schemas"]}
    refs = set(re.findall(r'"\$ref": "([^"]+)"', json.dumps(OPENAPI)))
    assert refs <= components, f"dangling: {refs - components}"
    submit = schema["/v1/batches"]["POST"]
    assert sorted(submit.get_request_payload_content_types()) == sorted(BODY_TYPES)


# GET /v1/events is excluded here: with a valid key it answers an endless text/event-stream
# (Server-Sent Events), which never completes for schemathesis to validate; its refusals (no key,
# bad cursors) are still fuzzed below and checked in tests/producer/test_events_stream.py.
@schema.exclude(path="/v1/events", method="GET").parametrize()
@settings(max_examples=30, deadline=None, database=None, suppress_health_check=SHARED_APP)
def test_every_operation_answers_as_documented(case: Any, api_client: TestClient) -> None:
    case.call_and_validate(app=api_client.app, headers=_auth(api_client), checks=CHECKS)


@schema.include(path_regex="^/v1/").parametrize()
@settings(max_examples=10, deadline=None, database=None, suppress_health_check=SHARED_APP)
def test_calls_without_a_valid_key_are_refused_as_documented(
    case: Any, api_client: TestClient
) -> None:
    # the generated Authorization and X-API-Key headers, if any, name no key
    response = case.call_and_validate(app=api_client.app, checks=CHECKS)
    assert not 200 <= response.status_code < 300, response.text


@pytest.fixture
def read_only_key(embedded_settings: Any) -> str:
    return make_key(embedded_settings, scopes=("read",))


@schema.include(method="POST").parametrize()
@settings(max_examples=10, deadline=None, database=None, suppress_health_check=SHARED_APP)
def test_writes_with_a_read_only_key_are_refused_as_documented(
    case: Any, api_client: TestClient, read_only_key: str
) -> None:
    headers = {"Authorization": f"Bearer {read_only_key}"}
    response = case.call_and_validate(app=api_client.app, headers=headers, checks=CHECKS)
    assert not 200 <= response.status_code < 300, response.text


# --- Submissions built from the real templates ---------------------------------------------------

JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
# refused ones too: not type/subtype, or longer than the 128-character column
part_types = st.sampled_from(
    ["image/jpeg", "application/octet-stream", "", "jpeg", "image/" * 30, "image/" + "x" * 130]
)


def _sendable(text: str) -> str:
    """Text an HTTP client can put into a URL or a form field (no lone surrogates)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _send(
    client: TestClient, body: dict[str, Any], media_type: str, data: st.DataObject
) -> httpx2.Response:
    headers = {}
    if data.draw(st.booleans(), label="idempotent"):
        headers["Idempotency-Key"] = data.draw(st.sampled_from(["k1", "k2"]), label="key")
    items = body["items"]
    query = {"template": _sendable(body["template"]), "priority": str(body.get("priority", 5))}
    if media_type == "application/json":
        headers["content-type"] = media_type
        return client.post("/v1/batches", content=json.dumps(body).encode(), headers=headers)
    if media_type in ("application/x-ndjson", "text/csv"):
        text = as_jsonl(items) if media_type.endswith("ndjson") else as_csv(items)
        content = text.encode("utf-8", "surrogatepass")
        headers["content-type"] = media_type
        return client.post("/v1/batches", params=query, content=content, headers=headers)
    is_csv = data.draw(st.booleans(), label="csv file")
    file_text = as_csv(items) if is_csv else as_jsonl(items)
    files = [
        ("file", ("batch.csv" if is_csv else "batch.jsonl", file_text.encode("utf-8", "replace"))),
        ("assets", (UPLOAD_NAME, JPEG, data.draw(part_types, label="asset type"))),
    ]
    form = {key: json.dumps(body[key]) for key in ("metadata", "params", "engines") if key in body}
    form |= query
    return client.post("/v1/batches", data=form, files=files, headers=headers)


def _validate(response: httpx2.Response, path: str, method: str, **case: Any) -> None:
    schema[path][method].Case(**case).validate_response(response, checks=CHECKS)


def _call(
    client: TestClient, method: str, path: str, params: dict[str, Any] | None = None, **ids: str
) -> httpx2.Response:
    """Send `method path` with its ids filled in and check the answer against the document."""
    quoted = {name: quote(value, safe="") for name, value in ids.items()}
    response = client.request(method, path.format(**quoted), params=params)
    _validate(response, path, method, path_parameters=ids or None)
    return response


SUBMISSIONS = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[*SHARED_APP, HealthCheck.data_too_large],
)
submissions = {
    "body": st.one_of(valid_bodies(), batch_bodies()),
    "media_type": st.sampled_from(BODY_TYPES),
    "data": st.data(),
}


def check_submission_and_its_reads(
    client: TestClient, body: dict[str, Any], media_type: str, data: st.DataObject
) -> None:
    """Submit; if accepted, read the batch, a job, the batch list and cancel: all as documented."""
    response = _send(client, body, media_type, data)
    event(f"{media_type} -> {response.status_code}")  # see --hypothesis-show-statistics
    _validate(response, "/v1/batches", "POST", media_type=media_type)
    if response.status_code != 202:
        return
    batch_id = response.json()["id"]
    job_id = response.json()["jobs"][0]["id"]
    jobs_offsets = st.sampled_from([0, 1, 2**63 - 1, 2**63, 10**20])  # past int64: 422, not 500
    page = {"jobs_offset": data.draw(jobs_offsets), "jobs_limit": data.draw(st.integers(0, 3))}
    _call(client, "GET", "/v1/batches/{batch_id}", page, batch_id=batch_id)
    _call(client, "GET", "/v1/jobs/{job_id}", job_id=job_id)
    cursor = _call(client, "GET", "/v1/batches", {"limit": 1}).json()["next_cursor"]
    if cursor:
        _call(client, "GET", "/v1/batches", {"limit": 1, "cursor": cursor})
    filters = {
        "state": data.draw(st.sampled_from(["queued", "canceled", "done"]), label="state"),
        "custom_id": _sendable(data.draw(nasty_text, label="custom_id search")),
    }
    _call(client, "GET", "/v1/batches/{batch_id}", filters, batch_id=batch_id)
    if data.draw(st.booleans(), label="cancel"):
        _call(client, "POST", "/v1/jobs/{job_id}/cancel", job_id=job_id)
        _call(client, "POST", "/v1/batches/{batch_id}/cancel", batch_id=batch_id)
    # a canceled job is retried (200), a queued one refused (409): both as documented
    _call(client, "POST", "/v1/jobs/{job_id}/retry", job_id=job_id)
    _call(client, "POST", "/v1/batches/{batch_id}/retry", batch_id=batch_id)


def check_asset_and_page_reads(
    client: TestClient, content: bytes, media_type: str, created: datetime, batch_id: str
) -> None:
    """Upload an input file and read it back; list batches from a cursor: all as documented."""
    response = client.post("/v1/assets", content=content, headers={"content-type": media_type})
    _validate(response, "/v1/assets", "POST", media_type="*/*")
    if response.status_code == 201:
        digest = response.json()["digest"]
        response = _call(client, "GET", "/v1/artifacts/{digest}", digest=digest)
        assert response.content == content
        _call(client, "GET", "/v1/artifacts/{digest}/provenance", digest=digest)  # 404: an upload
    # a cursor this API could have made, at any time and with any batch id
    _call(client, "GET", "/v1/batches", {"cursor": encode_cursor(created, batch_id)})


utc_offsets = st.integers(-1439, 1439).map(lambda minutes: timezone(timedelta(minutes=minutes)))
asset_reads = {
    "content": st.binary(min_size=1, max_size=64),
    "media_type": st.one_of(part_types, st.sampled_from(["video/mp4", "text/plain; x=1", "a/b "])),
    "created": st.datetimes(timezones=st.none() | utc_offsets),
    "batch_id": nasty_text.map(_sendable),
}


@SUBMISSIONS
@given(**submissions)
def test_submissions_and_their_reads_answer_as_documented(
    api_client: TestClient, body: dict[str, Any], media_type: str, data: st.DataObject
) -> None:
    check_submission_and_its_reads(api_client, body, media_type, data)


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=SHARED_APP)
@given(**asset_reads)
def test_uploaded_assets_and_batch_pages_read_back_as_documented(
    api_client: TestClient, content: bytes, media_type: str, created: datetime, batch_id: str
) -> None:
    check_asset_and_page_reads(api_client, content, media_type, created, batch_id)


# --- The same on PostgreSQL, which refuses what SQLite stores (NUL, over-long strings) -----------


@pytest.fixture
def postgres_client(postgres_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """A TestClient of the API on PostgreSQL, as a tenant of its own (the database is shared).

    Its batches are deleted afterwards, so no reconciler of a later test re-sends their stages.
    """
    from sqlalchemy import delete

    from producer.main import create_app
    from producer.migrate import upgrade
    from producer.settings import Settings
    from schemas.tables import Batch

    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=postgres_url,
        broker_url="",
        storage_url="",
        submit_rate_per_s=0,
        read_rate_per_s=0,
    )
    settings.data_dir.mkdir(parents=True)
    upgrade(postgres_url)
    tenant = f"fuzz-{uuid4().hex[:12]}"
    key = make_key(settings, tenant=tenant)
    app = create_app(settings)
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
        yield client
        with app.state.services.db.session() as session:  # jobs and stage runs cascade
            session.execute(delete(Batch).where(Batch.tenant_id == tenant))


@pytest.mark.postgres
@SUBMISSIONS
@given(**submissions)
def test_submissions_and_their_reads_answer_as_documented_on_postgres(
    postgres_client: TestClient, body: dict[str, Any], media_type: str, data: st.DataObject
) -> None:
    check_submission_and_its_reads(postgres_client, body, media_type, data)


@pytest.mark.postgres
@settings(max_examples=30, deadline=None, database=None, suppress_health_check=SHARED_APP)
@given(**asset_reads)
def test_uploaded_assets_and_batch_pages_read_back_as_documented_on_postgres(
    postgres_client: TestClient, content: bytes, media_type: str, created: datetime, batch_id: str
) -> None:
    check_asset_and_page_reads(postgres_client, content, media_type, created, batch_id)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("method", "path", "ids", "status"),
    [
        ("GET", "/v1/batches/{batch_id}", {"batch_id": "a\x00b"}, 404),
        ("POST", "/v1/batches/{batch_id}/cancel", {"batch_id": "a\x00b"}, 404),
        ("GET", "/v1/jobs/{job_id}", {"job_id": "a\x00b"}, 404),
        ("POST", "/v1/jobs/{job_id}/cancel", {"job_id": "a\x00b"}, 404),
        ("POST", "/v1/jobs/{job_id}/retry", {"job_id": "a\x00b"}, 404),
        ("POST", "/v1/batches/{batch_id}/retry", {"batch_id": "a\x00b"}, 404),
        ("GET", "/v1/templates/{name}", {"name": "a\x00b"}, 404),
        ("GET", "/v1/artifacts/{digest}", {"digest": "a\x00b"}, 422),
    ],
)
def test_ids_with_nul_are_not_found_on_postgres(
    postgres_client: TestClient, method: str, path: str, ids: dict[str, str], status: int
) -> None:
    # schemathesis sends no NUL in a path; PostgreSQL refuses one in a query parameter
    assert _call(postgres_client, method, path, **ids).status_code == status


@pytest.mark.postgres
def test_values_postgres_cannot_store_are_refused_before_they_reach_it(
    postgres_client: TestClient,
) -> None:
    cursor = encode_cursor(datetime.now(UTC), "a\x00b")
    assert _call(postgres_client, "GET", "/v1/batches", {"cursor": cursor}).status_code == 422
    item = {"custom_id": "a\x00b", "language": "en", "headline": "h", "body": "b"}
    response = postgres_client.post("/v1/batches", json={"template": "voiceover", "items": [item]})
    _validate(response, "/v1/batches", "POST", media_type="application/json")
    assert response.json()["errors"][0]["field"] == "items[0].custom_id"
    too_long = "image/" + "x" * 130  # the artifact.media_type column holds 128 characters
    response = postgres_client.post("/v1/assets", content=b"x", headers={"content-type": too_long})
    _validate(response, "/v1/assets", "POST", media_type="*/*")
    assert response.status_code == 415
