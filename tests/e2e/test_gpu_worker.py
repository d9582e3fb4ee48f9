"""A GPU-queue worker (`mediaq worker --gpu`: one process, a thread pool, models loaded once)
runs the neural upscaler for product stills beside a CPU worker, on torch-cpu with tiny weights.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from producer.db import Database
from producer.embedded import ApiThread, start_worker_process, stop_process
from producer.settings import Settings
from schemas.tables import StageRun
from tests.e2e.test_media_pipelines import EXAMPLES, wait
from tests.media import ffprobe

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
torch = pytest.importorskip("torch")


def test_product_stills_upscale_on_the_gpu_queue_with_the_neural_engine(
    embedded_settings: Settings, tmp_path: Path
) -> None:
    from tests.workers.neural.conftest import save_tiny_rrdb

    weights = save_tiny_rrdb(tmp_path / "weights", scale=4)
    settings = embedded_settings.model_copy(
        update={"upscale_weights_x4": weights.path, "neural_device": "cpu"}
    )
    photo = EXAMPLES / "products" / "images" / "mug-sage.jpg"
    api = ApiThread(settings)
    cpu = start_worker_process(settings, queues="cpu", concurrency=1)
    gpu = start_worker_process(settings, is_gpu=True, concurrency=4)
    try:
        api.start()
        api.wait_started()
        headers = {"Authorization": f"Bearer {api.api_key}"}
        with httpx.Client(base_url=api.url, timeout=60, headers=headers) as http:
            asset = http.post("/v1/assets", content=photo.read_bytes()).json()["ref"]
            items = [
                {
                    "custom_id": f"mug-{n}",
                    "language": "en",
                    "title": f"Sage mug {n}",
                    "price": "18.00",
                    "currency": "EUR",
                    "features": "Stoneware; 350 ml",
                    "image": asset,
                }
                for n in (1, 2)
            ]
            body = {
                "template": "product_showcase",
                "items": items,
                "engines": {"still": "esrgan"},
                "params": {"script": {"target_duration_s": 8}},
            }
            accepted = http.post("/v1/batches", json=body)
            assert accepted.status_code == 202, accepted.text
            view = wait(http, accepted.json()["id"])
            job = http.get(f"/v1/jobs/{view['jobs'][0]['id']}").json()
            still = next(s for s in job["stages"] if s["name"] == "still[0]")
            assert still["engine"] == "esrgan" and still["state"] == "succeeded"
            digest = still["outputs"][0]["digest"]
            record = http.get(f"/v1/artifacts/{digest}/provenance").json()
            assert record["engine"]["runtime"]["x4.backend"] == "torch-cpu"
            assert (
                record["engine"]["weights_digest"]
                == hashlib.sha256(weights.path.read_bytes()).hexdigest()
            )
            image = tmp_path / "still"
            image.write_bytes(http.get(f"/v1/artifacts/{digest}").content)
            (stream,) = ffprobe(image)["streams"]
            assert (stream["width"], stream["height"]) == (1280, 1280)
        # the stills ran in the GPU worker's process (threads), everything else in the CPU one
        with Database(settings.resolved_database_url()).read_session() as session:
            owners = dict(session.execute(select(StageRun.name, StageRun.lease_owner)).all())
        assert owners["still[0]"].split(":")[1] == str(gpu.pid)
        assert owners["script"].split(":")[1] != str(gpu.pid)
    finally:
        stop_process(gpu)
        stop_process(cpu)
        api.stop()
