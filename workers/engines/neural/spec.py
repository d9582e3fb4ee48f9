"""ModelSpec: what the backends need to know about a network, and the accuracy check they share."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from workers.engines.neural.device import Precision, RuntimeInfo
from workers.engines.neural.onnx_export import Tolerance, as_output_dict, compare_outputs
from workers.engines.neural.plan_cache import ShapeRange

# FP32 on a GPU runs TF32 convolutions unless told otherwise (torch and TensorRT both), which
# is about three decimal digits: the FP32 bound leaves room for that over a deep network.
DEFAULT_TOLERANCES: Mapping[Precision, Tolerance] = {
    Precision.FP32: Tolerance(max_abs=5e-3, mean_abs=5e-4),
    Precision.FP16: Tolerance(max_abs=1.5e-2, mean_abs=2e-3),
}


@dataclass(frozen=True)
class ModelSpec:
    """A network and the facts needed to export, build, check and run it on any backend.

    Attributes:
        name: short name for file names and logs, e.g. "esrgan-x4".
        module: the FP32 network on the CPU, in eval mode; called with the inputs as
            positional arguments in `example_inputs` order.
        weights_digest: sha256 of the weights (names exported files).
        example_inputs: input name -> a fixed, seeded CPU FP32 tensor at the profile's opt
            shape; used for tracing the export and for the accuracy check.
        output_names: names of the module's outputs, in order.
        dynamic_axes: tensor name -> {axis: symbolic name}, for inputs and outputs.
        profile: input name -> ShapeRange, the shapes a TensorRT plan must accept.
        tolerances: per precision, how close a backend's outputs must be to torch FP32.
    """

    name: str
    module: torch.nn.Module
    weights_digest: str
    example_inputs: Mapping[str, torch.Tensor]
    output_names: tuple[str, ...]
    dynamic_axes: Mapping[str, Mapping[int, str]]
    profile: Mapping[str, ShapeRange]
    tolerances: Mapping[Precision, Tolerance] = field(default_factory=lambda: DEFAULT_TOLERANCES)


class ModelRunner(Protocol):
    """A loaded network on one backend. `run` is safe to call from several threads."""

    info: RuntimeInfo

    def run(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Run one batch: input name -> tensor (any device) to output name -> FP32 tensor
        on the runner's device."""
        ...

    def close(self) -> None:
        """Free the runner's device memory."""
        ...


def reference_outputs(spec: ModelSpec, device: str) -> dict[str, np.ndarray]:
    """torch FP32 outputs on `example_inputs`, with TF32 off: the ground truth for checks."""
    module = spec.module if device == "cpu" else copy.deepcopy(spec.module).to(device)
    inputs = [tensor.to(device) for tensor in spec.example_inputs.values()]
    with torch.inference_mode(), torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        outputs = as_output_dict(module(*inputs), spec.output_names)
    return {name: tensor.float().cpu().numpy() for name, tensor in outputs.items()}


def check_accuracy(
    *,
    runner: ModelRunner,
    spec: ModelSpec,
    reference: Mapping[str, np.ndarray],
    precision: Precision,
) -> float:
    """Run `runner` on the spec's example inputs and compare with `reference`.

    Returns:
        The worst absolute difference.

    Raises:
        OutputMismatchError: beyond the spec's tolerance for `precision`.
    """
    outputs = runner.run(spec.example_inputs)
    actual = {name: tensor.float().cpu().numpy() for name, tensor in outputs.items()}
    return compare_outputs(
        expected=reference,
        actual=actual,
        tolerance=spec.tolerances[precision],
        what=f"{spec.name} on {runner.info.backend} {precision}",
    )
