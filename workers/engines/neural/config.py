"""NeuralConfig: the knobs every neural engine shares, read from Settings with safe defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEVICES = ("auto", "cpu", "cuda")
BACKENDS = ("auto", "torch", "tensorrt")
PRECISIONS = ("auto", "fp32", "fp16")
DEFAULT_TRT_WORKSPACE_BYTES = 4 * 1024**3


@dataclass(frozen=True)
class NeuralConfig:
    """How neural engines load and run models. Engines take one in __init__; tests build their own.

    Attributes:
        models_dir: relative weight paths are resolved against it; None means the current folder.
        device: "auto" (CUDA when torch sees a GPU), "cpu" or "cuda".
        backend: "auto" (TensorRT on CUDA when it is installed, else torch), "torch" or
            "tensorrt" (falls back to torch, with the reason in provenance, when it cannot run).
        precision: "auto" (FP16 on CUDA when the accuracy check passes, FP32 on CPU), "fp32" or
            "fp16".
        batch_max_size: most requests the dynamic batcher stacks into one forward pass.
        batch_max_wait_ms: how long the first request of a batch waits for others to join.
        trt_cache_url: object store URL for TensorRT plans and timing caches ("" = none: plans
            are built on every process start).
        work_dir: local folder for ONNX exports and other per-process scratch files.
        trt_workspace_bytes: TensorRT builder workspace limit.
    """

    models_dir: Path | None = None
    device: str = "auto"
    backend: str = "auto"
    precision: str = "auto"
    batch_max_size: int = 8
    batch_max_wait_ms: float = 5.0
    trt_cache_url: str = ""
    work_dir: Path = Path(".mediaq/neural")
    trt_workspace_bytes: int = DEFAULT_TRT_WORKSPACE_BYTES

    def __post_init__(self) -> None:
        for field, value, allowed in (
            ("device", self.device, DEVICES),
            ("backend", self.backend, BACKENDS),
            ("precision", self.precision, PRECISIONS),
        ):
            if value not in allowed:
                raise ValueError(
                    f"neural {field} must be one of {', '.join(allowed)}, got {value!r}"
                )
        if self.batch_max_size < 1:
            raise ValueError(f"batch_max_size must be at least 1, got {self.batch_max_size}")
        if self.batch_max_wait_ms < 0:
            raise ValueError(
                f"batch_max_wait_ms must not be negative, got {self.batch_max_wait_ms}"
            )

    def resolve_path(self, path: Path) -> Path:
        """`path` itself when absolute, else under `models_dir`."""
        if path.is_absolute() or self.models_dir is None:
            return path
        return self.models_dir / path


def neural_config_from_settings(settings: Any = None) -> NeuralConfig:
    """Build a NeuralConfig from the process Settings; fields Settings lacks keep their defaults.

    Args:
        settings: a producer.settings.Settings; None reads get_settings().
    """
    if settings is None:
        from producer.settings import get_settings

        settings = get_settings()
    defaults = NeuralConfig()
    data_dir = Path(getattr(settings, "data_dir", Path(".mediaq")))
    cache_url = getattr(settings, "trt_cache_url", None)
    if cache_url is None and hasattr(settings, "resolved_storage_url"):
        cache_url = settings.resolved_storage_url()
    return NeuralConfig(
        models_dir=getattr(settings, "models_dir", None),
        device=getattr(settings, "neural_device", defaults.device),
        backend=getattr(settings, "neural_backend", defaults.backend),
        precision=getattr(settings, "neural_precision", defaults.precision),
        batch_max_size=getattr(settings, "batch_max_size", defaults.batch_max_size),
        batch_max_wait_ms=getattr(settings, "batch_max_wait_ms", defaults.batch_max_wait_ms),
        trt_cache_url=cache_url or "",
        work_dir=getattr(settings, "neural_work_dir", None) or data_dir / "neural",
        trt_workspace_bytes=getattr(settings, "trt_workspace_bytes", defaults.trt_workspace_bytes),
    )
