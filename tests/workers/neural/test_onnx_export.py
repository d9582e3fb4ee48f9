"""ONNX export: dynamic batch and size, onnxruntime agrees with torch, FP16 stays in the graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from tests.workers.neural.conftest import TinyWeights
from workers.engines.neural.device import Precision
from workers.engines.neural.onnx_export import (
    FP32_TOLERANCE,
    OnnxExport,
    OutputMismatchError,
    Tolerance,
    check_onnx,
    compare_outputs,
    export_onnx,
    precision_module,
)
from workers.engines.neural.upscaler import INPUT_NAME, OUTPUT_NAME, rrdb_spec


def _export(tiny: TinyWeights, path: Path, *, precision: Precision = Precision.FP32) -> OnnxExport:
    spec = rrdb_spec(model=tiny.module, weights_digest="0" * 64, max_batch_size=2, window_px=16)
    return export_onnx(
        module=precision_module(spec.module, precision),
        example_inputs=spec.example_inputs,
        output_names=spec.output_names,
        dynamic_axes=spec.dynamic_axes,
        path=path,
    )


@pytest.mark.parametrize("fixture", ["tiny_x4", "tiny_x2"])
def test_onnx_export_matches_torch_at_other_batch_sizes_and_shapes(
    fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    tiny: TinyWeights = request.getfixturevalue(fixture)
    export = _export(tiny, tmp_path / "model.onnx")
    for batch, height, width in [(1, 16, 16), (3, 24, 10), (5, 8, 32)]:
        image = torch.rand(batch, 3, height, width)
        error = check_onnx(
            export=export,
            module=tiny.module,
            inputs={INPUT_NAME: image},
            tolerance=FP32_TOLERANCE,
        )
        assert error < 1e-4


def test_onnx_graph_declares_dynamic_batch_and_size(tiny_x4: TinyWeights, tmp_path: Path) -> None:
    graph = onnx.load(str(_export(tiny_x4, tmp_path / "m.onnx").path)).graph
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    assert graph.output[0].name == OUTPUT_NAME


def test_export_is_deterministic_so_plan_cache_keys_are_stable(
    tiny_x4: TinyWeights, tmp_path: Path
) -> None:
    assert (
        _export(tiny_x4, tmp_path / "a.onnx").digest == _export(tiny_x4, tmp_path / "b.onnx").digest
    )


def test_fp16_export_keeps_fp32_inputs_and_outputs_with_fp16_inside(
    tiny_x4: TinyWeights, tmp_path: Path
) -> None:
    export = _export(tiny_x4, tmp_path / "half.onnx", precision=Precision.FP16)
    model = onnx.load(str(export.path))
    float32 = onnx.TensorProto.FLOAT
    assert model.graph.input[0].type.tensor_type.elem_type == float32
    assert model.graph.output[0].type.tensor_type.elem_type == float32
    weights = [t for t in model.graph.initializer if t.name.endswith("weight")]
    assert weights and all(t.data_type == onnx.TensorProto.FLOAT16 for t in weights)
    assert export.digest != _export(tiny_x4, tmp_path / "full.onnx").digest


def test_differences_beyond_tolerance_are_refused() -> None:
    expected = {"y": np.zeros((2, 2), dtype=np.float32)}
    tolerance = Tolerance(max_abs=0.1, mean_abs=0.1)
    assert compare_outputs(
        expected=expected, actual={"y": expected["y"] + 0.05}, tolerance=tolerance, what="t"
    ) == pytest.approx(0.05)
    with pytest.raises(OutputMismatchError, match="differs by up to 0.2"):
        compare_outputs(
            expected=expected, actual={"y": expected["y"] + 0.2}, tolerance=tolerance, what="t"
        )
    with pytest.raises(OutputMismatchError, match="shape"):
        compare_outputs(expected=expected, actual={"y": np.zeros(3)}, tolerance=tolerance, what="t")
