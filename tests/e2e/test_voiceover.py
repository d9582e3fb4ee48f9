"""End to end: the 12 sample articles through HTTP, real worker processes and object storage.

Runs twice: on the embedded default (SQLite, file broker, local folder) and on production parts
(PostgreSQL, Redis broker, S3 API over HTTP served by moto). Needs: nothing / PostgreSQL + Redis.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from producer.embedded import embedded_system
from producer.objectstore import ObjectStore, open_object_store
from producer.settings import Settings
from tests.media import ffprobe

NEWS = Path(__file__).resolve().parents[2] / "examples" / "news" / "batch.jsonl"
EXPECTED_VOICE = {"en": "en-us", "zh": "cmn", "es": "es"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def submit_and_wait(http: httpx.Client) -> dict[str, Any]:
    response = http.post(
        "/v1/batches?template=voiceover",
        content=NEWS.read_bytes(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 202, response.text
    batch_id = response.json()["id"]
    from producer.client import Client

    client = Client(str(http.base_url), api_key=http.headers["Authorization"].split()[1])
    try:
        return client.wait_for_batch(batch_id, timeout_s=300)
    finally:
        client.close()


def fetch(http: httpx.Client, url: str) -> bytes:
    response = http.get(url, follow_redirects=True)
    assert response.status_code == 200, response.text
    return response.content


def check_job(
    http: httpx.Client, store: ObjectStore, job: dict[str, Any], item: dict[str, Any], tmp: Path
) -> None:
    assert job["state"] == "succeeded", job
    stages = {s["name"]: s for s in job["stages"]}
    outputs = {o["port"]: o for s in job["stages"] for o in s["outputs"]}
    assert set(outputs) == {"script", "audio", "timings"}
    audio_path = tmp / f"{item['custom_id']}.wav"
    audio_path.write_bytes(fetch(http, outputs["audio"]["url"]))
    assert hashlib.sha256(audio_path.read_bytes()).hexdigest() == outputs["audio"]["digest"]
    timings = json.loads(fetch(http, outputs["timings"]["url"]))
    script = json.loads(fetch(http, outputs["script"]["url"]))
    probe = ffprobe(audio_path)
    (stream,) = probe["streams"]
    assert stream["codec_type"] == "audio" and stream["channels"] == 1
    assert abs(float(probe["format"]["duration"]) - timings["duration_s"]) < 0.05
    assert timings["duration_s"] > 5
    language = item["language"].split("-")[0]
    assert timings["voice"] == EXPECTED_VOICE[language]
    assert script["language"] == item["language"]
    if language == "zh":
        assert any("\u4e00" <= ch <= "\u9fff" for ch in script["text"])
    starts = [w["start_s"] for w in timings["words"]]
    assert (
        starts == sorted(starts)
        and starts[0] >= 0
        and timings["words"][-1]["end_s"] <= timings["duration_s"]
    )
    for name in ("script", "audio", "timings"):
        digest = outputs[name]["digest"]
        record = http.get(f"/v1/artifacts/{digest}/provenance").json()
        assert record["artifact_digest"] == digest and record["job_id"] == job["id"]
        assert record["custom_id"] == item["custom_id"] and len(record["record_digest"]) == 64
        assert record["engine"]["name"] == stages["tts" if name != "script" else "script"]["engine"]
        sidecar = json.loads(store.get_sidecar(digest=digest, name="provenance") or b"{}")
        assert sidecar.get("record_digest") == record["record_digest"], "no provenance beside it"
    assert stages["tts"]["engine_version"] and stages["tts"]["duration_s"] > 0


def run_flow(settings: Settings, tmp: Path, *, expect_redirect: bool) -> None:
    items = [json.loads(line) for line in NEWS.read_text(encoding="utf-8").splitlines() if line]
    store = open_object_store(settings.resolved_storage_url())
    with (
        embedded_system(settings) as api,
        httpx.Client(
            base_url=api.url, timeout=60, headers={"Authorization": f"Bearer {api.api_key}"}
        ) as http,
    ):
        # Given the sample batch, When it is submitted, Then every job succeeds with checked media
        first = submit_and_wait(http)
        assert first["counts"]["succeeded"] == 12, first["counts"]
        for summary, item in zip(first["jobs"], items, strict=True):
            check_job(http, store, http.get(f"/v1/jobs/{summary['id']}").json(), item, tmp)
        digest = http.get(f"/v1/jobs/{first['jobs'][0]['id']}").json()["stages"][1]["outputs"][0][
            "digest"
        ]
        redirect = http.get(f"/v1/artifacts/{digest}")
        assert (redirect.status_code == 307) is expect_redirect, redirect.status_code
        objects_before = store.count_objects()
        # When the same batch is submitted again,
        # Then every stage is a cache hit and nothing new is stored
        second = submit_and_wait(http)
        assert second["counts"]["succeeded"] == 12
        for summary in second["jobs"]:
            job = http.get(f"/v1/jobs/{summary['id']}").json()
            assert all(stage["is_cache_hit"] for stage in job["stages"]), job
        assert store.count_objects() == objects_before


def test_sample_batch_end_to_end_on_the_embedded_default(
    embedded_settings: Settings, tmp_path: Path
) -> None:
    run_flow(embedded_settings, tmp_path, expect_redirect=False)


@pytest.mark.postgres
@pytest.mark.redis
def test_sample_batch_end_to_end_on_postgres_redis_and_s3(
    postgres_url: str, redis_url: str, s3_endpoint_url: str, tmp_path: Path
) -> None:
    from producer.migrate import upgrade
    from producer.objectstore.s3 import S3ObjectStore

    storage_url = (
        f"s3://mediaq-e2e/artifacts?endpoint_url={s3_endpoint_url}&region=us-east-1"
        "&access_key=test&secret_key=test"
    )
    store = open_object_store(storage_url)
    assert isinstance(store, S3ObjectStore)
    store.ensure_bucket()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=postgres_url,
        broker_url=redis_url,
        storage_url=storage_url,
    )
    settings.data_dir.mkdir()
    upgrade(postgres_url)
    run_flow(settings, tmp_path, expect_redirect=True)
