"""The GPU measurement script keeps working in its CPU-only mode (no figures are checked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_gpu_bench_runs_degraded_on_cpu_and_writes_its_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch = pytest.importorskip("torch")
    from bench.gpu_neural import main

    output = tmp_path / "figures.json"
    args = ["--models", "tiny", "--window-px", "16", "--iterations", "1", "--requests", "2"]
    assert main([*args, "--json", str(output)]) == 0
    payload = json.loads(output.read_text())
    [result] = payload["results"]
    assert result["model"] == "tiny" and result["batching"]["mean_batch_size"] >= 1
    backends = {b["backend"] for b in result["backends"]}
    if not torch.cuda.is_available():
        assert payload["gpu"] is False
        assert backends == {"torch-cpu"}
        assert "no GPU" in capsys.readouterr().err
