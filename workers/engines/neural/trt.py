"""TensorRT: build a plan from ONNX with an optimisation profile, cache it, check it, run it.

Built against the TensorRT 10/11 Python API: strongly typed networks (precision comes from the
ONNX graph, see onnx_export), named I/O tensors (`set_input_shape`, `set_tensor_address`,
`execute_async_v3`), a timing cache shared through the object store. Device buffers are torch
tensors, so no pycuda/cuda-python is needed. `tensorrt` is imported inside functions: this
module is importable, and its cache-key logic testable, on a machine without it.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from producer.objectstore import open_object_store
from workers.engines.neural.config import NeuralConfig
from workers.engines.neural.device import (
    Backend,
    Precision,
    RuntimeInfo,
    compute_capability,
    device_name,
)
from workers.engines.neural.onnx_export import (
    DEFAULT_OPSET,
    OutputMismatchError,
    export_onnx,
    precision_module,
)
from workers.engines.neural.plan_cache import PlanCache, PlanKey, ShapeRange
from workers.engines.neural.spec import ModelSpec, check_accuracy

log = logging.getLogger(__name__)


class TrtBuildError(RuntimeError):
    """The ONNX graph did not parse, or the builder produced no plan."""


def tensorrt_version() -> str:
    import tensorrt

    return str(tensorrt.__version__)


def _torch_dtype(trt_dtype: Any) -> torch.dtype:
    import tensorrt

    table = {
        tensorrt.DataType.FLOAT: torch.float32,
        tensorrt.DataType.HALF: torch.float16,
        tensorrt.DataType.INT32: torch.int32,
        tensorrt.DataType.INT64: torch.int64,
        tensorrt.DataType.INT8: torch.int8,
        tensorrt.DataType.BOOL: torch.bool,
    }
    return table[trt_dtype]


_logger_lock = threading.Lock()
_logger: Any = None


def _trt_logger() -> Any:
    # One logger per process: TensorRT keeps a reference and warns when several are made.
    global _logger
    import tensorrt

    with _logger_lock:
        if _logger is None:
            _logger = tensorrt.Logger(tensorrt.Logger.WARNING)
        return _logger


def _network_flags() -> int:
    import tensorrt

    # Required on 10.x to honour the graph's own precision; accepted and ignored on 11.x.
    flag = getattr(tensorrt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    return 0 if flag is None else 1 << int(flag)


def build_plan(
    *,
    onnx_path: Path,
    profiles: Sequence[Mapping[str, ShapeRange]],
    workspace_bytes: int,
    timing_cache: bytes | None,
) -> tuple[bytes, bytes]:
    """Parse an ONNX file and build a serialized engine.

    Args:
        onnx_path: the graph (with any external weight files beside it).
        profiles: one optimisation profile per entry: input name -> ShapeRange.
        workspace_bytes: builder workspace memory limit.
        timing_cache: a serialized timing cache to start from, or None.

    Returns:
        (plan bytes, serialized timing cache after the build).

    Raises:
        TrtBuildError: the parser or the builder failed; the message carries their errors.
    """
    import tensorrt

    logger = _trt_logger()
    builder = tensorrt.Builder(logger)
    network = builder.create_network(_network_flags())
    parser = tensorrt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise TrtBuildError(f"TensorRT could not parse {onnx_path.name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(tensorrt.MemoryPoolType.WORKSPACE, workspace_bytes)
    for shapes in profiles:
        profile = builder.create_optimization_profile()
        for name, shape_range in shapes.items():
            profile.set_shape(name, shape_range.min, shape_range.opt, shape_range.max)
        config.add_optimization_profile(profile)
    cache = config.create_timing_cache(timing_cache or b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise TrtBuildError(f"TensorRT built no plan from {onnx_path.name} (see the log above)")
    return bytes(serialized), bytes(config.get_timing_cache().serialize())


class TrtRunner:
    """A deserialized plan with one execution context; calls are serialised by a lock.

    Args:
        plan: serialized engine bytes.
        info: what to report in provenance.
        profile: the shapes the plan accepts, checked before each run.
        output_names: outputs to return, in order.
    """

    def __init__(
        self,
        *,
        plan: bytes,
        info: RuntimeInfo,
        profile: Mapping[str, ShapeRange],
        output_names: Sequence[str],
    ) -> None:
        import tensorrt

        self.info = info
        self.profile = dict(profile)
        self.output_names = tuple(output_names)
        self._runtime = tensorrt.Runtime(_trt_logger())
        self._engine = self._runtime.deserialize_cuda_engine(plan)
        if self._engine is None:
            raise TrtBuildError("TensorRT could not deserialize the plan (version or GPU mismatch)")
        self._context = self._engine.create_execution_context()
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        self.input_names = tuple(
            n for n in names if self._engine.get_tensor_mode(n) == tensorrt.TensorIOMode.INPUT
        )
        self._lock = threading.Lock()

    def run(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        for name in self.input_names:
            shape = tuple(inputs[name].shape)
            if not self.profile[name].contains(shape):
                raise ValueError(
                    f"input {name!r} shape {shape} is outside the plan's profile "
                    f"{self.profile[name]}"
                )
        with self._lock:
            return self._run_locked(inputs)

    def _run_locked(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        keep_alive = []
        for name in self.input_names:
            dtype = _torch_dtype(self._engine.get_tensor_dtype(name))
            tensor = inputs[name].to("cuda", dtype=dtype).contiguous()
            keep_alive.append(tensor)
            self._context.set_input_shape(name, tuple(tensor.shape))
            self._context.set_tensor_address(name, tensor.data_ptr())
        outputs: dict[str, torch.Tensor] = {}
        for name in self.output_names:
            shape = tuple(self._context.get_tensor_shape(name))
            dtype = _torch_dtype(self._engine.get_tensor_dtype(name))
            outputs[name] = torch.empty(shape, dtype=dtype, device="cuda")
            self._context.set_tensor_address(name, outputs[name].data_ptr())
        stream = torch.cuda.current_stream()
        if not self._context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 failed (see the log above)")
        stream.synchronize()
        return {name: tensor.float() for name, tensor in outputs.items()}

    def close(self) -> None:
        self._context = None
        self._engine = None


def open_trt_runner(
    *,
    spec: ModelSpec,
    config: NeuralConfig,
    candidates: Sequence[Precision],
    reference: Mapping[str, np.ndarray],
) -> tuple[TrtRunner | None, str | None]:
    """A TensorRT runner at the first precision whose plan passes the accuracy check.

    Returns:
        (runner, None), or (None, why not) when every candidate failed to build or check.
    """
    cache = _open_cache(config)
    failures = []
    for precision in candidates:
        try:
            return _open_at(spec, config, precision, reference, cache), None
        except (TrtBuildError, OutputMismatchError, ValueError, RuntimeError) as error:
            log.warning("%s: TensorRT %s rejected: %s", spec.name, precision, error)
            failures.append(f"tensorrt {precision}: {error}")
    return None, "; ".join(failures) or "no precision to try"


def plan_key(
    *, spec: ModelSpec, config: NeuralConfig, precision: Precision, onnx_digest: str
) -> PlanKey:
    """The cache key of the plan for `spec` at `precision` on this GPU and TensorRT."""
    return PlanKey(
        onnx_digest=onnx_digest,
        tensorrt_version=tensorrt_version(),
        compute_capability=compute_capability(),
        precision=str(precision),
        profiles=(dict(spec.profile),),
        builder_flags=_builder_flags(config),
    )


def _builder_flags(config: NeuralConfig) -> tuple[str, ...]:
    return (
        "strongly_typed=1",
        f"workspace_bytes={config.trt_workspace_bytes}",
        f"opset={DEFAULT_OPSET}",
    )


def _open_at(
    spec: ModelSpec,
    config: NeuralConfig,
    precision: Precision,
    reference: Mapping[str, np.ndarray],
    cache: PlanCache | None,
) -> TrtRunner:
    onnx_path = config.work_dir / f"{spec.name}-{spec.weights_digest[:16]}-{precision}.onnx"
    # A copy: the caller's module stays on the CPU whatever happens here.
    module = copy.deepcopy(precision_module(spec.module, precision)).to("cuda").eval()
    example = {name: t.to("cuda") for name, t in spec.example_inputs.items()}
    export = export_onnx(
        module=module,
        example_inputs=example,
        output_names=spec.output_names,
        dynamic_axes=spec.dynamic_axes,
        path=onnx_path,
    )
    del module
    key = plan_key(spec=spec, config=config, precision=precision, onnx_digest=export.digest)
    plan = cache.get_plan(key) if cache else None
    is_built_here = plan is None
    build_s = 0.0
    if plan is None:
        plan, build_s = _build(key, onnx_path, config, cache)
    info = RuntimeInfo(
        backend=Backend.TENSORRT,
        precision=precision,
        device_name=device_name("cuda"),
        plan_key=key.digest(),
    )
    runner = TrtRunner(plan=plan, info=info, profile=spec.profile, output_names=spec.output_names)
    error = check_accuracy(runner=runner, spec=spec, reference=reference, precision=precision)
    runner.info = replace(info, max_abs_error=error)
    if is_built_here and cache is not None:
        facts = {"max_abs_error": error, "build_s": round(build_s, 3), "gpu": info.device_name}
        cache.put_plan(key, plan, facts=facts)
    log.info(
        "%s: TensorRT %s plan %s (%s), max abs error %.3g",
        spec.name,
        precision,
        key.digest()[:12],
        "built" if is_built_here else "cached",
        error,
    )
    return runner


def _build(
    key: PlanKey, onnx_path: Path, config: NeuralConfig, cache: PlanCache | None
) -> tuple[bytes, float]:
    timing = (
        cache.get_timing_cache(
            tensorrt_version=key.tensorrt_version, compute_capability=key.compute_capability
        )
        if cache
        else None
    )
    started = time.monotonic()
    plan, new_timing = build_plan(
        onnx_path=onnx_path,
        profiles=key.profiles,
        workspace_bytes=config.trt_workspace_bytes,
        timing_cache=timing,
    )
    if cache is not None:
        cache.put_timing_cache(
            tensorrt_version=key.tensorrt_version,
            compute_capability=key.compute_capability,
            data=new_timing,
        )
    return plan, time.monotonic() - started


def _open_cache(config: NeuralConfig) -> PlanCache | None:
    if not config.trt_cache_url:
        return None
    return PlanCache(open_object_store(config.trt_cache_url))
