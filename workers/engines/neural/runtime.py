"""Open a network on the best backend this worker has: TensorRT, else torch on CUDA, else CPU.

`open_runner()` is the one entry point for engines. It resolves the device, tries TensorRT
(when configured or "auto" on a GPU) at each acceptable precision, and otherwise runs torch,
checking reduced precision against FP32 the same way. Whatever it settles on is described by
the runner's RuntimeInfo, including why a faster option was not used.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import torch

from workers.engines.neural.config import NeuralConfig
from workers.engines.neural.device import (
    Precision,
    RuntimeInfo,
    device_name,
    precision_candidates,
    resolve_device,
    torch_backend,
    wants_tensorrt,
)
from workers.engines.neural.onnx_export import (
    OutputMismatchError,
    as_output_dict,
    precision_module,
)
from workers.engines.neural.spec import ModelRunner, ModelSpec, check_accuracy, reference_outputs

log = logging.getLogger(__name__)


class TorchRunner:
    """Eager torch on one device and precision. Calls are serialised by a lock.

    Args:
        spec: the network; its module is used as is on the CPU, copied to a GPU.
        device: "cpu" or "cuda".
        precision: FP16 runs an FP16 copy with FP32 inputs and outputs.
        fallback_reason: why this is not the preferred backend, for provenance.
    """

    def __init__(
        self,
        *,
        spec: ModelSpec,
        device: str,
        precision: Precision = Precision.FP32,
        fallback_reason: str | None = None,
    ) -> None:
        module = spec.module if device == "cpu" else copy.deepcopy(spec.module)
        self.module = precision_module(module, precision).to(device).eval()
        self.device = device
        self.output_names = spec.output_names
        self.input_names = tuple(spec.example_inputs)
        self.info = RuntimeInfo(
            backend=torch_backend(device),
            precision=precision,
            device_name=device_name(device),
            fallback_reason=fallback_reason,
        )
        self._lock = threading.Lock()

    def run(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        args = [inputs[name].to(self.device) for name in self.input_names]
        with self._lock, torch.inference_mode():
            return as_output_dict(self.module(*args), self.output_names)

    def close(self) -> None:
        self.module.to("cpu")


def open_runner(*, spec: ModelSpec, config: NeuralConfig) -> ModelRunner:
    """The fastest runner for `spec` that passes the accuracy check.

    Order: TensorRT at each candidate precision (FP16 first under "auto"), then torch at each
    candidate precision, then torch FP32, which is the reference and always accepted.

    Raises:
        PermanentEngineError: the configured device or precision cannot exist here.
    """
    device = resolve_device(config)
    candidates = precision_candidates(config, device)
    try_trt, reason = wants_tensorrt(config, device)
    # The FP32 reference costs one forward pass; only a candidate that is not torch FP32
    # needs it.
    needs_reference = try_trt or any(p != Precision.FP32 for p in candidates)
    reference = reference_outputs(spec, device) if needs_reference else None
    if try_trt and reference is not None:
        from workers.engines.neural.trt import open_trt_runner

        runner, reason = open_trt_runner(
            spec=spec, config=config, candidates=candidates, reference=reference
        )
        if runner is not None:
            return runner
        log.warning("%s: TensorRT not used, falling back to torch: %s", spec.name, reason)
    return _open_torch(
        spec=spec, device=device, candidates=candidates, reason=reason, reference=reference
    )


def _open_torch(
    *,
    spec: ModelSpec,
    device: str,
    candidates: list[Precision],
    reason: str | None,
    reference: Mapping[str, np.ndarray] | None,
) -> ModelRunner:
    for precision in candidates:
        if precision == Precision.FP32:
            break
        runner = TorchRunner(spec=spec, device=device, precision=precision, fallback_reason=reason)
        try:
            error = check_accuracy(
                runner=runner, spec=spec, reference=reference or {}, precision=precision
            )
        except OutputMismatchError as mismatch:
            runner.close()
            reason = _join(reason, f"torch {precision} failed the accuracy check: {mismatch}")
            log.warning("%s: %s", spec.name, reason)
            continue
        runner.info = replace(runner.info, max_abs_error=error)
        return runner
    return TorchRunner(spec=spec, device=device, precision=Precision.FP32, fallback_reason=reason)


def _join(first: str | None, second: str) -> str:
    return f"{first}; {second}" if first else second
