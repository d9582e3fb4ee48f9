"""Backend choice on a CPU machine: torch-cpu FP32, and fallbacks that say why."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workers.neural.conftest import TinyWeights, has_gpu
from workers.engines.base import PermanentEngineError
from workers.engines.neural.config import NeuralConfig
from workers.engines.neural.device import Backend, Precision
from workers.engines.neural.runtime import open_runner
from workers.engines.neural.spec import ModelSpec
from workers.engines.neural.upscaler import INPUT_NAME, OUTPUT_NAME, rrdb_spec

cpu_only = pytest.mark.skipif(has_gpu(), reason="checks behaviour without a GPU")


def _spec(tiny: TinyWeights) -> ModelSpec:
    return rrdb_spec(model=tiny.module, weights_digest="0" * 64, max_batch_size=2, window_px=16)


@cpu_only
def test_auto_on_a_cpu_machine_runs_torch_cpu_fp32_without_a_fallback_note(
    tiny_x4: TinyWeights, tmp_path: Path
) -> None:
    runner = open_runner(spec=_spec(tiny_x4), config=NeuralConfig(work_dir=tmp_path))
    assert (runner.info.backend, runner.info.precision) == (Backend.TORCH_CPU, Precision.FP32)
    assert runner.info.fallback_reason is None
    output = runner.run(_spec(tiny_x4).example_inputs)[OUTPUT_NAME]
    assert output.shape == (2, 3, 64, 64)


@cpu_only
def test_tensorrt_asked_for_without_a_gpu_falls_back_to_torch_and_says_why(
    tiny_x4: TinyWeights, tmp_path: Path
) -> None:
    config = NeuralConfig(backend="tensorrt", work_dir=tmp_path)
    runner = open_runner(spec=_spec(tiny_x4), config=config)
    assert runner.info.backend == Backend.TORCH_CPU
    assert runner.info.fallback_reason == "tensorrt unavailable: no CUDA device"
    assert runner.info.as_dict()["fallback_reason"] == "tensorrt unavailable: no CUDA device"


@cpu_only
def test_cuda_asked_for_without_a_gpu_is_a_permanent_error(
    tiny_x4: TinyWeights, tmp_path: Path
) -> None:
    with pytest.raises(PermanentEngineError, match="torch sees no CUDA device"):
        open_runner(spec=_spec(tiny_x4), config=NeuralConfig(device="cuda", work_dir=tmp_path))


def test_fp16_on_the_cpu_is_refused(tiny_x4: TinyWeights, tmp_path: Path) -> None:
    config = NeuralConfig(device="cpu", precision="fp16", work_dir=tmp_path)
    with pytest.raises(PermanentEngineError, match="fp16' needs a CUDA device"):
        open_runner(spec=_spec(tiny_x4), config=config)


def test_torch_runner_accepts_any_batch_inside_the_profile(
    tiny_x4: TinyWeights, tmp_path: Path
) -> None:
    import torch

    runner = open_runner(spec=_spec(tiny_x4), config=NeuralConfig(device="cpu", work_dir=tmp_path))
    output = runner.run({INPUT_NAME: torch.rand(1, 3, 6, 10)})[OUTPUT_NAME]
    assert output.shape == (1, 3, 24, 40)
