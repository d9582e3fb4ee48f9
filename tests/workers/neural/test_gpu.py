"""GPU paths: TensorRT build, accuracy check, plan cache reuse; torch-cuda FP16; esrgan on CUDA.

Run with RUN_GPU=1 on a machine with a CUDA device (and `pip install 'mediaq[gpu]'` for the
TensorRT tests); skipped everywhere else.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from producer.objectstore import LocalObjectStore
from tests.workers.neural.conftest import TinyWeights, requires_gpu
from workers.engines.esrgan import EsrganConfig, EsrganEngine
from workers.engines.neural.config import NeuralConfig
from workers.engines.neural.device import Backend, Precision
from workers.engines.neural.runtime import open_runner
from workers.engines.neural.spec import ModelSpec
from workers.engines.neural.upscaler import INPUT_NAME, OUTPUT_NAME, rrdb_spec

pytestmark = [pytest.mark.gpu, requires_gpu]


def _config(tmp_path: Path, **overrides: object) -> NeuralConfig:
    values: dict[str, object] = {
        "device": "cuda",
        "work_dir": tmp_path / "work",
        "trt_cache_url": str(tmp_path / "store"),
        "batch_max_size": 4,
    }
    return NeuralConfig(**{**values, **overrides})


def _spec(tiny: TinyWeights) -> ModelSpec:
    return rrdb_spec(model=tiny.module, weights_digest="0" * 64, max_batch_size=4, window_px=32)


def test_tensorrt_plan_is_built_checked_stored_and_reused_by_the_next_process(
    tiny_x4: TinyWeights, tmp_path: Path
) -> None:
    pytest.importorskip("tensorrt")
    # Given an empty plan cache, when a first worker opens the model on TensorRT
    first = open_runner(spec=_spec(tiny_x4), config=_config(tmp_path, backend="tensorrt"))
    # Then TensorRT runs it, and the accuracy check against torch FP32 passed
    assert first.info.backend == Backend.TENSORRT, first.info.fallback_reason
    assert first.info.max_abs_error is not None and first.info.plan_key
    stored = LocalObjectStore(tmp_path / "store").count_objects()
    assert stored >= 2  # plan and timing cache (plus their key objects)
    # When a second worker opens it, it reuses the plan: nothing new is stored
    second = open_runner(spec=_spec(tiny_x4), config=_config(tmp_path, backend="tensorrt"))
    assert second.info.plan_key == first.info.plan_key
    assert LocalObjectStore(tmp_path / "store").count_objects() == stored
    # And it runs any batch and size inside the profile like torch does
    image = torch.rand(3, 3, 20, 28)
    with torch.inference_mode():
        expected = tiny_x4.module(image)
    actual = second.run({INPUT_NAME: image})[OUTPUT_NAME].cpu()
    assert actual.shape == expected.shape
    assert (actual - expected).abs().max() < 2e-2
    first.close()
    second.close()


def test_tensorrt_refuses_shapes_outside_its_profile(tiny_x4: TinyWeights, tmp_path: Path) -> None:
    pytest.importorskip("tensorrt")
    runner = open_runner(spec=_spec(tiny_x4), config=_config(tmp_path, backend="tensorrt"))
    assert runner.info.backend == Backend.TENSORRT, runner.info.fallback_reason
    with pytest.raises(ValueError, match="outside the plan's profile"):
        runner.run({INPUT_NAME: torch.rand(5, 3, 32, 32)})
    runner.close()


def test_torch_cuda_uses_fp16_when_it_passes_the_accuracy_check(
    tiny_x4: TinyWeights, tmp_path: Path
) -> None:
    runner = open_runner(spec=_spec(tiny_x4), config=_config(tmp_path, backend="torch"))
    assert runner.info.backend == Backend.TORCH_CUDA
    assert runner.info.precision == Precision.FP16, runner.info.fallback_reason
    assert runner.info.max_abs_error is not None


def test_esrgan_on_the_gpu_matches_the_cpu_within_the_fp16_tolerance(
    tiny_x4: TinyWeights, tmp_path: Path
) -> None:
    rgb = (np.random.default_rng(0).random((70, 50, 3)) * 255).astype(np.uint8)
    outputs = []
    for device in ("cpu", "cuda"):
        neural = _config(tmp_path / device, device=device)
        engine = EsrganEngine(
            config=EsrganConfig(neural=neural, weights={4: tiny_x4.path}, tile_px=24, tile_pad_px=8)
        )
        engine.load()
        outputs.append(engine.upscale_array(rgb, scale=4).astype(int))
        engine.close()
    assert np.abs(outputs[0] - outputs[1]).max() <= 4  # FP16 tolerance 1.5e-2 is ~4 levels
