"""Export a torch module to ONNX with dynamic axes, and check the export against torch.

The export uses torch's TorchScript-based exporter (dynamo=False): it needs no onnxscript and
its graphs parse cleanly in TensorRT's ONNX parser. torch deprecates it with a warning, which is
silenced here and only here.

Reduced precision is put into the graph itself (`PrecisionCast`): inputs and outputs stay FP32
and the network runs in FP16 inside. TensorRT 11 builds only strongly typed networks (there is
no FP16 builder flag any more), so the ONNX graph is where the precision is decided.
"""

from __future__ import annotations

import copy
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import torch

from producer.objectstore.base import hash_file
from workers.engines.neural.device import Precision

DEFAULT_OPSET = 17
_LEGACY_EXPORTER_WARNING = r"You are using the legacy TorchScript-based ONNX export"


@dataclass(frozen=True)
class Tolerance:
    """How close two outputs must be: worst and mean absolute difference, output units."""

    max_abs: float
    mean_abs: float


# Default for outputs in [0, 1] (images): FP32 backends must agree to float noise, FP16 to about
# two 8-bit levels at worst and a fraction of a level on average.
FP32_TOLERANCE = Tolerance(max_abs=1e-3, mean_abs=1e-4)
FP16_TOLERANCE = Tolerance(max_abs=8e-3, mean_abs=1e-3)


class OutputMismatchError(RuntimeError):
    """Two backends disagree beyond the tolerance."""


@dataclass(frozen=True)
class OnnxExport:
    """An exported ONNX file.

    Attributes:
        path: the .onnx file.
        digest: sha256 of its bytes (part of the TensorRT plan cache key).
        input_names: graph inputs, in the module's argument order.
        output_names: graph outputs.
    """

    path: Path
    digest: str
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]


def export_onnx(
    *,
    module: torch.nn.Module,
    example_inputs: Mapping[str, torch.Tensor],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]],
    path: Path,
    opset: int = DEFAULT_OPSET,
) -> OnnxExport:
    """Trace `module` on `example_inputs` and write an ONNX file with the given dynamic axes.

    Args:
        module: in eval mode; called with the example inputs as positional arguments, in order.
        example_inputs: input name -> example tensor (on the module's device).
        output_names: names for the module's outputs, in order.
        dynamic_axes: tensor name -> {axis: symbolic name} for every axis that varies
            (batch, length, height, width), for inputs and outputs.
        path: where to write; replaced atomically, so concurrent exporters do not clash.
        opset: ONNX opset.

    Returns:
        The export with its digest.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
    os.close(handle)
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=_LEGACY_EXPORTER_WARNING, category=DeprecationWarning
            )
            # The legacy exporter calls its own deprecated helpers; those warnings are about
            # torch's internals, not about this call.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
            torch.onnx.export(
                module,
                tuple(example_inputs.values()),
                temp_name,
                dynamo=False,
                input_names=list(example_inputs),
                output_names=list(output_names),
                dynamic_axes={name: dict(axes) for name, axes in dynamic_axes.items()},
                opset_version=opset,
                do_constant_folding=True,
            )
        os.replace(temp_name, path)
    finally:
        Path(temp_name).unlink(missing_ok=True)
    return OnnxExport(
        path=path,
        digest=hash_file(path)[0],
        input_names=tuple(example_inputs),
        output_names=tuple(output_names),
    )


def run_onnxruntime(
    *, export: OnnxExport, inputs: Mapping[str, torch.Tensor], threads: int = 1
) -> dict[str, np.ndarray]:
    """Run the exported graph on the CPU with onnxruntime (the reference for the export)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(
        str(export.path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    feeds = {name: tensor.detach().cpu().numpy() for name, tensor in inputs.items()}
    outputs = session.run(list(export.output_names), feeds)
    return dict(zip(export.output_names, outputs, strict=True))


def check_onnx(
    *,
    export: OnnxExport,
    module: torch.nn.Module,
    inputs: Mapping[str, torch.Tensor],
    tolerance: Tolerance = FP32_TOLERANCE,
) -> float:
    """Compare onnxruntime's outputs with the module's on `inputs` (CPU tensors).

    Returns:
        The worst absolute difference over all outputs.

    Raises:
        OutputMismatchError: a difference beyond `tolerance`.
    """
    with torch.inference_mode():
        expected = as_output_dict(module(*inputs.values()), export.output_names)
    actual = run_onnxruntime(export=export, inputs=inputs)
    return compare_outputs(
        expected={name: tensor.float().cpu().numpy() for name, tensor in expected.items()},
        actual=actual,
        tolerance=tolerance,
        what=f"ONNX export {export.path.name}",
    )


def compare_outputs(
    *,
    expected: Mapping[str, np.ndarray],
    actual: Mapping[str, np.ndarray],
    tolerance: Tolerance,
    what: str,
) -> float:
    """Worst absolute difference between matching outputs.

    Raises:
        OutputMismatchError: shapes differ, or a difference beyond `tolerance`.
    """
    worst = 0.0
    for name, reference in expected.items():
        candidate = np.asarray(actual[name], dtype=np.float32)
        if candidate.shape != reference.shape:
            raise OutputMismatchError(
                f"{what}: output {name!r} has shape {candidate.shape}, expected {reference.shape}"
            )
        difference = np.abs(candidate - reference.astype(np.float32))
        max_abs, mean_abs = float(difference.max(initial=0.0)), float(difference.mean())
        if not max_abs <= tolerance.max_abs or not mean_abs <= tolerance.mean_abs:
            raise OutputMismatchError(
                f"{what}: output {name!r} differs by up to {max_abs:.3g} (mean {mean_abs:.3g}); "
                f"allowed {tolerance.max_abs:g} (mean {tolerance.mean_abs:g})"
            )
        worst = max(worst, max_abs)
    return worst


def as_output_dict(outputs: Any, names: Sequence[str]) -> dict[str, torch.Tensor]:
    """Name a module's outputs (one tensor, or a tuple/list in `names` order)."""
    if isinstance(outputs, torch.Tensor):
        outputs = (outputs,)
    return dict(zip(names, outputs, strict=True))


def precision_module(module: torch.nn.Module, precision: Precision) -> torch.nn.Module:
    """`module` itself for FP32; for FP16 a wrapper with FP32 inputs/outputs and FP16 inside.

    The FP16 wrapper holds an FP16 copy of the weights; the original module is left as it is.
    """
    if precision == Precision.FP32:
        return module
    return PrecisionCast(copy.deepcopy(module).half())


class PrecisionCast(torch.nn.Module):
    """Runs an FP16 module for FP32 callers: floating inputs cast to FP16 on the way in,
    floating outputs to FP32 on the way out (the casts become Cast nodes in ONNX)."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, *inputs: torch.Tensor) -> Any:
        cast = [t.half() if t.is_floating_point() else t for t in inputs]
        outputs = self.inner(*cast)
        if isinstance(outputs, torch.Tensor):
            return outputs.float()
        return tuple(t.float() if t.is_floating_point() else t for t in outputs)
