"""Where a neural engine runs: device (cpu/cuda), backend (torch or TensorRT) and precision.

The choice is made once, at engine load, and reported in provenance through RuntimeInfo, so
an artifact always says which backend produced it and, when TensorRT was wanted but not used,
why not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from workers.engines.base import PermanentEngineError
from workers.engines.neural.config import NeuralConfig

log = logging.getLogger(__name__)


class Backend(StrEnum):
    TORCH_CPU = "torch-cpu"
    TORCH_CUDA = "torch-cuda"
    TENSORRT = "tensorrt"


class Precision(StrEnum):
    FP32 = "fp32"
    FP16 = "fp16"


@dataclass(frozen=True)
class RuntimeInfo:
    """What actually ran, for provenance.

    Attributes:
        backend: the backend that runs the forward passes.
        precision: the arithmetic precision inside the network (inputs and outputs stay FP32).
        device_name: "cpu" or the GPU's name.
        fallback_reason: why a faster backend or precision was wanted and not used, or None.
        plan_key: digest of the TensorRT plan cache key, when TensorRT runs.
        max_abs_error: worst absolute difference from torch FP32 in the accuracy check.
    """

    backend: Backend
    precision: Precision
    device_name: str
    fallback_reason: str | None = None
    plan_key: str | None = None
    max_abs_error: float | None = None

    def as_dict(self) -> dict[str, str]:
        """Flat string form, for Engine.library_versions() and provenance."""
        facts = {
            "backend": str(self.backend),
            "precision": str(self.precision),
            "device_name": self.device_name,
        }
        if self.fallback_reason:
            facts["fallback_reason"] = self.fallback_reason
        if self.plan_key:
            facts["trt_plan_key"] = self.plan_key
        if self.max_abs_error is not None:
            facts["max_abs_error"] = f"{self.max_abs_error:.3g}"
        return facts


def resolve_device(config: NeuralConfig) -> str:
    """The device to run on, "cpu" or "cuda", for the configured one.

    Raises:
        PermanentEngineError: "cuda" was configured and torch sees no CUDA device.
    """
    import torch

    has_cuda = torch.cuda.is_available()
    if config.device == "cuda" and not has_cuda:
        raise PermanentEngineError(
            "neural device is 'cuda' but torch sees no CUDA device "
            f"(torch {torch.__version__}): set MEDIAQ_NEURAL_DEVICE=cpu or auto"
        )
    if config.device == "auto":
        return "cuda" if has_cuda else "cpu"
    return config.device


def device_name(device: str) -> str:
    """Human name of the device: "cpu" or e.g. "NVIDIA H100 80GB HBM3"."""
    if device != "cuda":
        return "cpu"
    import torch

    return str(torch.cuda.get_device_name())


def compute_capability() -> str:
    """CUDA compute capability of the current device, e.g. "9.0" (TensorRT plans depend on it)."""
    import torch

    major, minor = torch.cuda.get_device_capability()
    return f"{major}.{minor}"


def tensorrt_unavailable_reason(device: str) -> str | None:
    """Why TensorRT cannot run here, or None when it can."""
    if device != "cuda":
        return "no CUDA device"
    try:
        import tensorrt  # noqa: F401
    except ImportError as error:
        return f"tensorrt is not installed ({error}): pip install 'mediaq[gpu]'"
    return None


def wants_tensorrt(config: NeuralConfig, device: str) -> tuple[bool, str | None]:
    """Whether to try TensorRT, and when it was wanted but cannot run, why not.

    "auto" on the CPU never wants TensorRT: a CPU worker is not a degraded GPU worker. A GPU
    without tensorrt installed, or an explicit "tensorrt" anywhere it cannot run, is a fallback
    worth reporting in provenance.
    """
    if config.backend == "torch" or (config.backend == "auto" and device != "cuda"):
        return False, None
    reason = tensorrt_unavailable_reason(device)
    if reason is None:
        return True, None
    log.warning("TensorRT cannot run here, using torch: %s", reason)
    return False, f"tensorrt unavailable: {reason}"


def precision_candidates(config: NeuralConfig, device: str) -> list[Precision]:
    """Precisions to try in order; the first that passes the accuracy check is used.

    Raises:
        PermanentEngineError: FP16 was configured for the CPU, where torch runs it slowly or
            not at all.
    """
    if device == "cpu":
        if config.precision == "fp16":
            raise PermanentEngineError(
                "neural precision 'fp16' needs a CUDA device: set MEDIAQ_NEURAL_PRECISION=auto"
            )
        return [Precision.FP32]
    if config.precision == "fp32":
        return [Precision.FP32]
    if config.precision == "fp16":
        return [Precision.FP16]
    return [Precision.FP16, Precision.FP32]


def torch_backend(device: str) -> Backend:
    return Backend.TORCH_CUDA if device == "cuda" else Backend.TORCH_CPU
