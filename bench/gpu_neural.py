"""GPU measurements for the neural upscaler: TensorRT vs torch eager, batch 1 vs 8, batching.

For a tiny and a realistic-size (Real-ESRGAN x4plus: 64 features, 23 blocks, 32 growth) RRDBNet
with random weights, on square windows of --window-px input pixels:

- accuracy: each backend's worst absolute difference from torch FP32 (TF32 off) on a fixed input;
- throughput: windows per second at batch 1 and at batch 8, torch eager FP32/FP16 and TensorRT;
- dynamic batching: 8 client threads sending single windows through DynamicBatcher against one
  client at batch 1: throughput ratio and median latency ratio (goals: >= 3x at <= 2x).

Without a CUDA device it says "no GPU" and measures torch-cpu only, with smaller defaults. It
prints a table and, with --json, writes the figures to a file; it never edits BENCHMARKS.md.

    python -m bench.gpu_neural                       # both models, defaults for the device
    python -m bench.gpu_neural --models tiny --json /tmp/gpu_neural.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from workers.engines.neural.batching import DynamicBatcher
from workers.engines.neural.config import NeuralConfig
from workers.engines.neural.rrdb import RRDBArch, RRDBNet
from workers.engines.neural.runtime import open_runner
from workers.engines.neural.spec import ModelRunner
from workers.engines.neural.upscaler import INPUT_NAME, OUTPUT_NAME, example_image, rrdb_spec

MODELS = {
    "tiny": RRDBArch(scale=4, num_feat=8, num_block=1, num_grow_ch=4),
    "realistic": RRDBArch(scale=4, num_feat=64, num_block=23, num_grow_ch=32),
}
LARGE_BATCH = 8
CLIENTS = 8


@dataclass
class BackendResult:
    """Figures of one model on one backend."""

    backend: str
    precision: str
    max_abs_error: float | None
    fallback_reason: str | None
    open_s: float
    batch1_windows_per_s: float
    batch8_windows_per_s: float
    batch1_latency_ms: float
    batch8_latency_ms: float


@dataclass
class BatchingResult:
    """Single windows from CLIENTS threads through the batcher, against one client alone."""

    alone_windows_per_s: float
    alone_p50_latency_ms: float
    batched_windows_per_s: float
    batched_p50_latency_ms: float
    mean_batch_size: float

    @property
    def throughput_ratio(self) -> float:
        return self.batched_windows_per_s / self.alone_windows_per_s

    @property
    def latency_ratio(self) -> float:
        return self.batched_p50_latency_ms / self.alone_p50_latency_ms


@dataclass
class ModelResult:
    model: str
    arch: dict[str, int]
    window_px: int
    backends: list[BackendResult] = field(default_factory=list)
    batching: dict[str, Any] | None = None


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_batches(
    runner: ModelRunner, *, batch: int, window_px: int, iterations: int, device: str
) -> tuple[float, float]:
    """(windows per second, median latency per batch in ms) after two warm-up passes."""
    inputs = {INPUT_NAME: example_image(batch=batch, size_px=window_px, seed=1)}
    for _ in range(2):
        runner.run(inputs)
    _sync(device)
    latencies = []
    for _ in range(iterations):
        started = time.perf_counter()
        runner.run(inputs)[OUTPUT_NAME].cpu()
        latencies.append(time.perf_counter() - started)
    return batch * iterations / sum(latencies), statistics.median(latencies) * 1000


def time_batcher(
    runner: ModelRunner, *, clients: int, max_batch: int, window_px: int, requests: int
) -> tuple[float, float, float]:
    """(windows per second, median request latency in ms, mean batch size)."""

    def run_batch(windows: list[torch.Tensor]) -> list[torch.Tensor]:
        return list(runner.run({INPUT_NAME: torch.stack(windows)})[OUTPUT_NAME].cpu().unbind(0))

    batcher = DynamicBatcher(run_batch=run_batch, max_batch_size=max_batch, max_wait_ms=5)
    window = example_image(batch=1, size_px=window_px, seed=2)[0]
    batcher.run(window)  # warm up
    latencies: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(requests):
            started = time.perf_counter()
            batcher.run(window)
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    stats = batcher.stats()
    batcher.close()
    return clients * requests / elapsed, statistics.median(latencies) * 1000, stats.mean_size


def measure_backend(
    *, model: RRDBNet, config: NeuralConfig, window_px: int, iterations: int, device: str
) -> tuple[BackendResult, ModelRunner]:
    spec = rrdb_spec(
        model=model, weights_digest="0" * 64, max_batch_size=LARGE_BATCH, window_px=window_px
    )
    started = time.perf_counter()
    runner = open_runner(spec=spec, config=config)
    open_s = time.perf_counter() - started
    one = time_batches(runner, batch=1, window_px=window_px, iterations=iterations, device=device)
    eight = time_batches(
        runner,
        batch=LARGE_BATCH,
        window_px=window_px,
        iterations=max(1, iterations // 2),
        device=device,
    )
    info = runner.info
    result = BackendResult(
        backend=str(info.backend),
        precision=str(info.precision),
        max_abs_error=info.max_abs_error,
        fallback_reason=info.fallback_reason,
        open_s=round(open_s, 2),
        batch1_windows_per_s=round(one[0], 2),
        batch8_windows_per_s=round(eight[0], 2),
        batch1_latency_ms=round(one[1], 2),
        batch8_latency_ms=round(eight[1], 2),
    )
    return result, runner


def backend_configs(device: str, work_dir: Path) -> dict[str, NeuralConfig]:
    """The backends to compare on this device (one TensorRT cache per run, in work_dir)."""
    common = {"device": device, "work_dir": work_dir, "batch_max_size": LARGE_BATCH}
    if device == "cpu":
        return {"torch-fp32": NeuralConfig(backend="torch", precision="fp32", **common)}  # type: ignore[arg-type]
    return {
        "torch-fp32": NeuralConfig(backend="torch", precision="fp32", **common),  # type: ignore[arg-type]
        "torch-fp16": NeuralConfig(backend="torch", precision="fp16", **common),  # type: ignore[arg-type]
        "tensorrt": NeuralConfig(
            backend="tensorrt",
            precision="auto",
            trt_cache_url=str(work_dir / "plans"),
            **common,  # type: ignore[arg-type]
        ),
    }


def measure_model(
    name: str,
    *,
    device: str,
    window_px: int,
    iterations: int,
    requests: int,
    work_dir: Path,
    log: Callable[[str], None],
) -> ModelResult:
    torch.manual_seed(0)
    model = RRDBNet(MODELS[name]).eval()
    result = ModelResult(model=name, arch=asdict(MODELS[name]), window_px=window_px)
    best: tuple[float, ModelRunner] | None = None
    for label, config in backend_configs(device, work_dir).items():
        log(f"{name}: {label} ...")
        figures, runner = measure_backend(
            model=model, config=config, window_px=window_px, iterations=iterations, device=device
        )
        result.backends.append(figures)
        if best is None or figures.batch8_windows_per_s > best[0]:
            if best is not None:
                best[1].close()
            best = (figures.batch8_windows_per_s, runner)
        else:
            runner.close()
    assert best is not None
    log(f"{name}: dynamic batching on {best[1].info.backend} ...")
    alone = time_batcher(best[1], clients=1, max_batch=1, window_px=window_px, requests=requests)
    batched = time_batcher(
        best[1], clients=CLIENTS, max_batch=LARGE_BATCH, window_px=window_px, requests=requests
    )
    batching = BatchingResult(alone[0], alone[1], batched[0], batched[1], batched[2])
    result.batching = {
        "backend": str(best[1].info.backend),
        **{k: round(v, 2) for k, v in asdict(batching).items()},
        "throughput_ratio": round(batching.throughput_ratio, 2),
        "latency_ratio": round(batching.latency_ratio, 2),
    }
    best[1].close()
    return result


def environment(device: str, command: str) -> dict[str, str]:
    facts = {"command": command, "python": platform.python_version(), "torch": torch.__version__}
    facts["device"] = (
        torch.cuda.get_device_name()
        if device == "cuda"
        else f"cpu ({platform.processor() or platform.machine()})"
    )
    try:
        facts["tensorrt"] = metadata.version("tensorrt")
    except metadata.PackageNotFoundError:
        facts["tensorrt"] = "not installed"
    return facts


def render(results: list[ModelResult], facts: dict[str, str]) -> str:
    lines = [f"{k}: {v}" for k, v in facts.items()]
    lines.append("")
    lines.append(
        "| model | backend | precision | max abs err | b1 win/s | b8 win/s | b1 ms | b8 ms |"
    )
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for result in results:
        for b in result.backends:
            error = "ref" if b.max_abs_error is None else f"{b.max_abs_error:.2g}"
            lines.append(
                f"| {result.model} ({result.window_px}px) | {b.backend} | {b.precision} | {error} "
                f"| {b.batch1_windows_per_s} | {b.batch8_windows_per_s} "
                f"| {b.batch1_latency_ms} | {b.batch8_latency_ms} |"
            )
            if b.fallback_reason:
                lines.append(f"|  | fallback: {b.fallback_reason} | | | | | | |")
    for result in results:
        if result.batching:
            lines.append(
                f"\n{result.model} dynamic batching ({CLIENTS} clients): {result.batching}"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", default="tiny,realistic", help="comma-separated: tiny,realistic"
    )
    parser.add_argument("--window-px", type=int, help="input window side (GPU 128, CPU 32)")
    parser.add_argument("--iterations", type=int, help="timed batches per figure (GPU 20, CPU 4)")
    parser.add_argument("--requests", type=int, help="requests per batching client (GPU 16, CPU 4)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    is_gpu = device == "cuda"

    def log(message: str) -> None:
        sys.stderr.write(message + "\n")

    if not is_gpu:
        log("no GPU: measuring torch-cpu only (TensorRT and FP16 need CUDA)")
        torch.set_num_threads(max(1, torch.get_num_threads()))
    window_px = args.window_px or (128 if is_gpu else 32)
    iterations = args.iterations or (20 if is_gpu else 4)
    requests = args.requests or (16 if is_gpu else 4)
    command = "python -m bench.gpu_neural " + " ".join(argv if argv is not None else sys.argv[1:])
    results = []
    with tempfile.TemporaryDirectory(prefix="mediaq-gpu-bench-") as tmp:
        for name in args.models.split(","):
            results.append(
                measure_model(
                    name.strip(),
                    device=device,
                    window_px=window_px,
                    iterations=iterations,
                    requests=requests,
                    work_dir=Path(tmp),
                    log=log,
                )
            )
    facts = environment(device, command.strip())
    sys.stdout.write(render(results, facts))
    if args.json:
        payload = {"environment": facts, "gpu": is_gpu, "results": [asdict(r) for r in results]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
