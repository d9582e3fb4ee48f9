"""The esrgan engine in the Upscale stage: stills x2/x4, alpha, refusals, provenance, batching."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.workers.neural.conftest import TinyWeights, save_tiny_rrdb
from workers import publish
from workers.engines.base import PermanentEngineError
from workers.engines.esrgan import EsrganConfig, EsrganEngine
from workers.engines.neural.config import NeuralConfig
from workers.stages.base import StageOutput
from workers.stages.upscale import Upscale


def make_engine(
    tmp_path: Path, weights: dict[int, Path], *, batch_max_size: int = 8, wait_ms: float = 20
) -> EsrganEngine:
    neural = NeuralConfig(
        device="cpu",
        batch_max_size=batch_max_size,
        batch_max_wait_ms=wait_ms,
        work_dir=tmp_path / "neural",
    )
    engine = EsrganEngine(
        config=EsrganConfig(neural=neural, weights=weights, tile_px=24, tile_pad_px=8)
    )
    engine.load()
    return engine


@pytest.fixture(scope="module")
def engine(tiny_x4: TinyWeights, tmp_path_factory: pytest.TempPathFactory) -> EsrganEngine:
    loaded = make_engine(tmp_path_factory.mktemp("esrgan"), {4: tiny_x4.path})
    yield loaded
    loaded.close()


def write_photo(path: Path, *, width: int, height: int, mode: str = "RGB", seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    channels = 4 if mode == "RGBA" else 3
    pixels = (rng.random((height, width, channels)) * 255).astype(np.uint8)
    Image.fromarray(pixels, mode).save(path)
    return path


def run_stage(engine: EsrganEngine, source: Path, workdir: Path, **params: object) -> StageOutput:
    outdir = workdir / f"out-{len(list(workdir.iterdir()))}"
    outdir.mkdir()
    [output] = Upscale().run(
        item={}, inputs={"media": source}, params=params, engine=engine, workdir=outdir
    )
    return output


def test_upscale_stage_runs_end_to_end_on_engine_esrgan(
    engine: EsrganEngine, tmp_path: Path
) -> None:
    source = write_photo(tmp_path / "photo.png", width=61, height=47)
    output = run_stage(engine, source, tmp_path, scale=4, format="jpeg", quality=90)
    assert output.media_type == "image/jpeg"
    with Image.open(output.path) as image:
        assert (image.format, image.size, image.mode) == ("JPEG", (244, 188), "RGB")


def test_x2_with_only_x4_weights_runs_x4_and_reduces(engine: EsrganEngine, tmp_path: Path) -> None:
    source = write_photo(tmp_path / "photo.png", width=30, height=20)
    output = run_stage(engine, source, tmp_path, scale=2)
    with Image.open(output.path) as image:
        assert (image.format, image.size) == ("PNG", (60, 40))


def test_transparency_survives_in_png(engine: EsrganEngine, tmp_path: Path) -> None:
    source = write_photo(tmp_path / "logo.png", width=20, height=16, mode="RGBA")
    output = run_stage(engine, source, tmp_path, scale=4)
    with Image.open(output.path) as image:
        assert (image.mode, image.size) == ("RGBA", (80, 64))
    with pytest.raises(PermanentEngineError, match="transparency"):
        run_stage(engine, source, tmp_path, scale=4, format="jpeg")


def test_sharpen_is_refused_because_it_belongs_to_lanczos(
    engine: EsrganEngine, tmp_path: Path
) -> None:
    source = write_photo(tmp_path / "photo.png", width=8, height=8)
    with pytest.raises(PermanentEngineError, match="params.sharpen applies to engine lanczos"):
        run_stage(engine, source, tmp_path, sharpen=0.5)


def test_provenance_facts_name_the_backend_weights_and_precision(
    engine: EsrganEngine, tiny_x4: TinyWeights
) -> None:
    from producer.objectstore.base import hash_file

    assert engine.model_digest == hash_file(tiny_x4.path)[0]
    assert engine.model_id == "rrdbnet-x4(feat=8,blocks=1,grow=4)"
    runtime = engine.runtime_info()
    assert runtime["x4.backend"] == "torch-cpu"
    assert runtime["x4.precision"] == "fp32"
    assert "torch" in engine.library_versions()
    assert publish.engine_info(engine).runtime == runtime  # what provenance records


def test_missing_weights_fail_load_with_the_path_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "x4.safetensors"
    engine = EsrganEngine(config=EsrganConfig(weights={4: missing}))
    with pytest.raises(PermanentEngineError, match=str(missing)):
        engine.load()


def test_no_weights_configured_names_the_setting() -> None:
    with pytest.raises(PermanentEngineError, match="MEDIAQ_UPSCALE_WEIGHTS_X4"):
        EsrganEngine(config=EsrganConfig()).load()


def test_weights_of_the_wrong_scale_are_refused(tiny_x2: TinyWeights) -> None:
    engine = EsrganEngine(config=EsrganConfig(weights={4: tiny_x2.path}))
    with pytest.raises(PermanentEngineError, match="holds an x2 RRDBNet"):
        engine.load()


def test_x4_with_only_x2_weights_is_refused(tiny_x2: TinyWeights, tmp_path: Path) -> None:
    engine = make_engine(tmp_path, {2: tiny_x2.path})
    source = write_photo(tmp_path / "photo.png", width=10, height=10)
    output = run_stage(engine, source, tmp_path, scale=2)
    with Image.open(output.path) as image:
        assert image.size == (20, 20)
    with pytest.raises(PermanentEngineError, match="cannot upscale x4"):
        run_stage(engine, source, tmp_path, scale=4)
    engine.close()


def test_concurrent_stage_runs_from_different_jobs_share_forward_passes(
    tmp_path: Path, weights_dir: Path
) -> None:
    # Given one engine, as a GPU worker's thread pool shares it, and three different photos
    tiny = save_tiny_rrdb(weights_dir, scale=4, seed=11)
    shared = make_engine(tmp_path / "shared", {4: tiny.path}, wait_ms=100)
    alone = make_engine(tmp_path / "alone", {4: tiny.path}, batch_max_size=1, wait_ms=0)
    photos = []
    for i in range(3):  # 40x40 is one window (tile 24 + 2 x pad 8) per photo
        with Image.open(write_photo(tmp_path / f"p{i}.png", width=40, height=40, seed=i)) as im:
            photos.append(np.asarray(im))
    # When three stage threads upscale at the same time
    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(lambda rgb: shared.upscale_array(rgb, scale=4), photos))
    # Then windows from different photos were stacked into common batches
    stats = shared.batch_stats()[4]
    assert stats.largest > 1  # one window per photo: a larger batch mixed photos
    # and every photo got its own result, the same as running it alone
    for rgb, result in zip(photos, together, strict=True):
        expected = alone.upscale_array(rgb, scale=4)
        assert np.abs(result.astype(int) - expected.astype(int)).max() <= 1
    shared.close()
    alone.close()
