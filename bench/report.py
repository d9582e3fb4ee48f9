"""The result table: one Figure per row, rendered to stdout and into BENCHMARKS.md."""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"


@dataclass
class Figure:
    """One measured row.

    Attributes:
        figure: what was measured ("accept 10,000 items").
        setup: the setup label.
        value: the measurement as shown ("1.84 s", "p50 4.1 ms, p99 22 ms, 950 req/s").
        target: the goal as shown ("< 2 s"), or "" when the row is informative only.
        command: the command that reproduces the row.
        numbers: the raw numbers behind `value`, by name (seconds, ms, req/s, counts).
        is_met: whether the target was met; None when there is no target.
    """

    figure: str
    setup: str
    value: str
    target: str
    command: str
    numbers: dict[str, float] = field(default_factory=dict)
    is_met: bool | None = None


@dataclass
class Skipped:
    """A row that could not be measured, with the reason."""

    figure: str
    setup: str
    reason: str
    command: str
    is_error: bool = False


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction 0.5 = median, 0.99 = p99) of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def _verdict(row: Figure | Skipped) -> str:
    if isinstance(row, Skipped):
        return "skipped"
    return {True: "met", False: "**missed**", None: ""}[row.is_met]


def render_table(rows: list[Figure | Skipped]) -> str:
    """A Markdown table: figure, setup, value, target (with verdict), command."""
    lines = [
        "| figure | setup | value | target | command |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        if isinstance(row, Skipped):
            value, target = f"skipped: {row.reason}", ""
        else:
            value = row.value
            target = f"{row.target} {_verdict(row)}".strip() if row.target else ""
        lines.append(f"| {row.figure} | {row.setup} | {value} | {target} | `{row.command}` |")
    return "\n".join(lines) + "\n"


def machine_line() -> str:
    """nproc, CPU model, memory, Python: what the numbers depend on."""
    model = "unknown CPU"
    memory = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores (nproc), {model}{memory}, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def write_stdout(rows: list[Figure | Skipped], *, command: str, notes: list[str]) -> None:
    sys.stdout.write(f"\n{command}\n\n")
    sys.stdout.write(render_table(rows))
    for note in notes:
        sys.stdout.write(f"- {note}\n")
    sys.stdout.flush()


def write_markdown(
    rows: list[Figure | Skipped],
    *,
    command: str,
    notes: list[str],
    services: list[str],
    elapsed_s: float,
    path: Path = BENCHMARKS_MD,
) -> None:
    """Rewrite BENCHMARKS.md with the date, machine, command, table and notes."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# Benchmarks\n",
        "Written by `bench/` (`python -m bench.run`); do not edit by hand, run it again.\n",
        f"- date: {now}",
        f"- machine: {machine_line()}",
        *[f"- {line}" for line in services],
        f"- command: `{command}` (took {elapsed_s:.0f} s)",
        "",
        render_table(rows),
        "## Notes\n",
        *[f"- {note}" for note in notes],
        "",
    ]
    path.write_text("\n".join(parts), encoding="utf-8")
