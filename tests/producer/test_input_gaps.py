"""Hostile input refused at the door: NaN, duplicate CSV headers, mistyped params, media bombs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from producer.main import create_app
from producer.media_probe import ffmpeg_exe
from producer.settings import Settings
from tests.conftest import make_key
from tests.producer.test_api_batches import assert_problem

ITEM = '{"custom_id": "a", "language": "en", "headline": "H", "body": "B"'


def post_json(client: TestClient, text: str) -> object:
    return client.post(
        "/v1/batches", content=text.encode(), headers={"Content-Type": "application/json"}
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"template": "voiceover", "items": [' + ITEM + ', "x": NaN}]}', "items[0].x"),
        (
            '{"template": "voiceover", "items": [' + ITEM + '}], "metadata": {"w": -Infinity}}',
            "metadata.w",
        ),
        (
            '{"template": "voiceover", "items": [' + ITEM + "}], "
            '"params": {"script": {"target_duration_s": Infinity}}}',
            "params.script.target_duration_s",
        ),
    ],
)
def test_nan_and_infinity_in_a_json_body_are_a_422_naming_the_field(
    api_client: TestClient, body: str, field: str
) -> None:
    assert_problem(post_json(api_client, body), 422, field)


def test_nan_in_a_jsonl_upload_is_a_422_naming_the_field(api_client: TestClient) -> None:
    response = api_client.post(
        "/v1/batches?template=voiceover",
        content=(ITEM + ', "score": NaN}\n').encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert_problem(response, 422, "items[0].score")


def test_a_csv_with_a_repeated_header_is_a_422_naming_it(api_client: TestClient) -> None:
    csv = "custom_id,language,headline,body,headline\na,en,One,Body,Two\n"
    response = api_client.post(
        "/v1/batches?template=voiceover",
        content=csv.encode(),
        headers={"Content-Type": "text/csv"},
    )
    body = assert_problem(response, 422, "header.headline")
    assert "headline" in body["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tts": {"rate_wpm": "fast"}}, "params.tts.rate_wpm"),
        ({"tts": {"rate_wpm": 180.5}}, "params.tts.rate_wpm"),
        ({"script": {"target_duration_s": True}}, "params.script.target_duration_s"),
        ({"tts": {"volume": 3}}, "params.tts.volume"),
    ],
)
def test_a_param_of_the_wrong_type_or_unknown_is_refused_at_submission(
    api_client: TestClient, params: dict[str, object], field: str
) -> None:
    body = {
        "template": "voiceover",
        "items": [{"custom_id": "a", "language": "en", "headline": "H", "body": "B"}],
        "params": params,
    }
    assert_problem(api_client.post("/v1/batches", json=body), 422, field)


def test_params_of_the_declared_types_are_accepted(api_client: TestClient) -> None:
    body = {
        "template": "voiceover",
        "items": [{"custom_id": "a", "language": "en", "headline": "H", "body": "B"}],
        "params": {"tts": {"rate_wpm": 180, "voice": "en-us"}, "script": {"target_duration_s": 30}},
    }
    assert api_client.post("/v1/batches", json=body).status_code == 202


def make_media(path: Path, *args: str) -> bytes:
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args, str(path)], check=True
    )
    return path.read_bytes()


@pytest.fixture
def tight_client(embedded_settings: Settings) -> TestClient:
    settings = embedded_settings.model_copy(
        update={"max_image_pixels": 64 * 64, "max_media_duration_s": 1.5}
    )
    with TestClient(
        create_app(settings), headers={"Authorization": f"Bearer {make_key(settings)}"}
    ) as client:
        yield client


def test_an_image_over_the_pixel_limit_is_refused_before_it_is_stored(
    tight_client: TestClient, tmp_path: Path
) -> None:
    small = make_media(
        tmp_path / "s.png", "-f", "lavfi", "-i", "color=red:s=64x64", "-frames:v", "1"
    )
    big = make_media(tmp_path / "b.png", "-f", "lavfi", "-i", "color=red:s=80x64", "-frames:v", "1")
    headers = {"Content-Type": "image/png"}
    assert tight_client.post("/v1/assets", content=small, headers=headers).status_code == 201
    body = assert_problem(tight_client.post("/v1/assets", content=big, headers=headers), 413)
    assert "80x64" in body["detail"] and "MEDIAQ_MAX_IMAGE_PIXELS" in body["detail"]


def test_audio_over_the_duration_limit_is_refused_as_asset_and_in_a_batch(
    tight_client: TestClient, tmp_path: Path
) -> None:
    audio = make_media(tmp_path / "long.wav", "-f", "lavfi", "-i", "sine=d=2")
    response = tight_client.post("/v1/assets", content=audio, headers={"Content-Type": "audio/wav"})
    body = assert_problem(response, 413)
    assert "MEDIAQ_MAX_MEDIA_DURATION_S" in body["detail"]
    multipart = tight_client.post(
        "/v1/batches",
        files=[
            ("file", ("b.jsonl", (ITEM + ', "photos": ["long.wav"]}\n').encode(), "text/plain")),
            ("assets", ("long.wav", audio, "audio/wav")),
        ],
        data={"template": "voiceover"},
    )
    assert "long.wav" in assert_problem(multipart, 413)["detail"]


def test_readyz_down_is_a_strict_problem_document_and_documented(
    embedded_settings: Settings,
) -> None:
    from tests.services import find_free_port

    dead = f"redis://127.0.0.1:{find_free_port()}/0"
    with TestClient(create_app(embedded_settings.model_copy(update={"broker_url": dead}))) as c:
        response = c.get("/readyz")
        body = assert_problem(response, 503)
        assert body["type"] == "/problems/not-ready" and body["title"] == "Not ready"
        assert body["down"] == ["broker"] and "broker" in body["detail"]
        assert response.headers["Retry-After"]
        documented = c.get("/openapi.json").json()["paths"]["/readyz"]["get"]["responses"]
        assert "application/problem+json" in documented["503"]["content"]
