"""End to end: news_anchor and product_showcase through HTTP, worker processes and storage.

Three articles (English, Chinese, Spanish) and three products, shortened scripts to keep the
suite fast. On the embedded default, and on PostgreSQL + Redis + S3 (one of each).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from producer.client import Client
from producer.embedded import embedded_system
from producer.settings import Settings
from tests.media import ffprobe

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NEWS_IDS = ("harbor-bridge-0412", "bridge-zh-0420", "market-es-0422")
SHORT = {"script": {"target_duration_s": 12}}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def news_items(ids: tuple[str, ...]) -> list[dict[str, Any]]:
    lines = (EXAMPLES / "news" / "batch.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line]
    return [item for item in items if item["custom_id"] in ids]


def product_csv(tmp: Path, *, languages: tuple[str, ...]) -> Path:
    """A catalog with one product per language, its photos copied beside it."""
    rows = list(csv.DictReader((EXAMPLES / "products" / "catalog.csv").open(encoding="utf-8")))
    chosen = [next(r for r in rows if r["language"].startswith(lang)) for lang in languages]
    (tmp / "images").mkdir(parents=True, exist_ok=True)
    for row in chosen:
        shutil.copy(EXAMPLES / "products" / row["image"], tmp / row["image"])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(chosen)
    path = tmp / "catalog.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def outputs_of(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{s['name']}.{o['port']}": o for s in job["stages"] for o in s["outputs"]}


def fetch_to(http: httpx.Client, url: str, path: Path) -> Path:
    response = http.get(url, follow_redirects=True)
    assert response.status_code == 200, response.text
    path.write_bytes(response.content)
    return path


def check_video(
    http: httpx.Client, job: dict[str, Any], tmp: Path, *, size: tuple[int, int]
) -> None:
    import c2pa
    import srt
    import webvtt

    out = outputs_of(job)
    stage_kinds = {stage["name"]: stage["kind"] for stage in job["stages"]}
    video = fetch_to(http, out["credentials.media"]["url"], tmp / f"{job['id']}.mp4")
    probe = ffprobe(video)
    streams = {s["codec_type"]: s for s in probe["streams"]}
    assert streams["video"]["codec_name"] == "h264" and streams["video"]["pix_fmt"] == "yuv420p"
    assert streams["video"]["profile"] == "High"
    assert (streams["video"]["width"], streams["video"]["height"]) == size
    assert streams["audio"]["codec_name"] == "aac" and streams["audio"]["sample_rate"] == "48000"
    audio_s = out["tts.audio"]["duration_s"]
    assert abs(float(streams["video"]["duration"]) - audio_s) <= 0.04 + 1e-6
    vtt = fetch_to(http, out["subtitles.vtt"]["url"], tmp / f"{job['id']}.vtt")
    cues = webvtt.read(str(vtt))
    srt_cues = list(
        srt.parse(fetch_to(http, out["subtitles.srt"]["url"], tmp / "c.srt").read_text("utf-8"))
    )
    assert len(cues) == len(srt_cues) > 0
    loudness = json.loads(http.get(out["compose.loudness"]["url"], follow_redirects=True).content)
    assert abs(loudness["measured_lufs"] - loudness["target_lufs"]) <= 1.0
    with c2pa.Reader("video/mp4", video.open("rb")) as reader:
        store = json.loads(reader.json())
    failures = store.get("validation_results", {}).get("activeManifest", {}).get("failure", [])
    assert {f["code"] for f in failures} <= {"signingCredential.untrusted"}, failures
    for name, output in out.items():
        record = http.get(f"/v1/artifacts/{output['digest']}/provenance")
        assert record.status_code == 200, name
        assert record.json()["artifact_digest"] == output["digest"]
        # identical bytes are stored once, so a small file (a loudness report) may carry the
        # record of the job that made it first: the stage kind must still match
        assert record.json()["stage_kind"] == stage_kinds[name.split(".")[0]], name


def run_news(http: httpx.Client, tmp: Path) -> None:
    body = {"template": "news_anchor", "items": news_items(NEWS_IDS), "params": SHORT}
    accepted = http.post("/v1/batches", json=body)
    assert accepted.status_code == 202, accepted.text
    view = wait(http, accepted.json()["id"])
    assert view["counts"]["succeeded"] == len(NEWS_IDS), view["counts"]
    for summary in view["jobs"]:
        job = http.get(f"/v1/jobs/{summary['id']}").json()
        check_video(http, job, tmp, size=(1280, 720))
        poster = fetch_to(
            http, outputs_of(job)["poster_credentials.media"]["url"], tmp / "poster.jpg"
        )
        assert ffprobe(poster)["streams"][0]["codec_name"] == "mjpeg"


def run_products(http: httpx.Client, tmp: Path, *, languages: tuple[str, ...]) -> None:
    client = Client(str(http.base_url), api_key=http.headers["Authorization"].split()[1])
    try:
        accepted = client.submit_file(
            product_csv(tmp / "catalog", languages=languages), template="product_showcase"
        )
    finally:
        client.close()
    view = wait(http, accepted["id"])
    assert view["counts"]["succeeded"] == len(languages), view["counts"]
    for summary in view["jobs"]:
        job = http.get(f"/v1/jobs/{summary['id']}").json()
        check_video(http, job, tmp, size=(1280, 720))
        still = fetch_to(http, outputs_of(job)["still_credentials[0].media"]["url"], tmp / "still")
        (stream,) = ffprobe(still)["streams"]
        assert (stream["width"], stream["height"]) == (1280, 1280)


def wait(http: httpx.Client, batch_id: str) -> dict[str, Any]:
    """The finished batch; fails with every stage error when a job did not succeed."""
    client = Client(
        str(http.base_url), api_key=http.headers["Authorization"].split()[1], timeout_s=60
    )
    try:
        view = client.wait_for_batch(batch_id, timeout_s=800)
    finally:
        client.close()
    errors = [
        f"{job['custom_id']} {stage['name']}: {stage['error']}"
        for summary in view["jobs"]
        if summary["state"] != "succeeded"
        for job in [http.get(f"/v1/jobs/{summary['id']}").json()]
        for stage in job["stages"]
        if stage["error"]
    ]
    assert not errors, "\n".join(errors)
    return view


def test_news_and_products_end_to_end_on_the_embedded_default(
    embedded_settings: Settings, tmp_path: Path
) -> None:
    with (
        embedded_system(embedded_settings) as api,
        httpx.Client(
            base_url=api.url, timeout=60, headers={"Authorization": f"Bearer {api.api_key}"}
        ) as http,
    ):
        run_news(http, tmp_path)
        run_products(http, tmp_path, languages=("en", "zh", "es"))


@pytest.mark.postgres
@pytest.mark.redis
def test_news_and_products_end_to_end_on_postgres_redis_and_s3(
    postgres_url: str, redis_url: str, s3_endpoint_url: str, tmp_path: Path
) -> None:
    from producer.migrate import upgrade
    from producer.objectstore import open_object_store

    storage_url = (
        f"s3://mediaq-media/e2e?endpoint_url={s3_endpoint_url}&region=us-east-1"
        "&access_key=test&secret_key=test"
    )
    open_object_store(storage_url).ensure_bucket()  # type: ignore[attr-defined]
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=postgres_url,
        broker_url=redis_url,
        storage_url=storage_url,
    )
    settings.data_dir.mkdir()
    upgrade(postgres_url)
    with (
        embedded_system(settings) as api,
        httpx.Client(
            base_url=api.url, timeout=60, headers={"Authorization": f"Bearer {api.api_key}"}
        ) as http,
    ):
        body = {
            "template": "news_anchor",
            "items": news_items(("bridge-zh-0420",)),
            "params": SHORT,
        }
        accepted = http.post("/v1/batches", json=body)
        assert accepted.status_code == 202, accepted.text
        view = wait(http, accepted.json()["id"])
        assert view["counts"]["succeeded"] == 1, view["counts"]
        check_video(
            http, http.get(f"/v1/jobs/{view['jobs'][0]['id']}").json(), tmp_path, size=(1280, 720)
        )
        run_products(http, tmp_path, languages=("es",))
