"""The result table: one Figure per row, rendered to stdout and into BENCHMARKS.md."""

from __future__ import annotations

import math
import os
import platform
import re
import statistics
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
_ONLY = re.compile(r"--only (\w+)")
# a partial run (--only) keeps the other rows; this line dates the run that measured those
_KEPT_LINE = "- rows of the figures not in this command: kept from the run of "


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


def write_stdout(
    rows: list[Figure | Skipped], *, command: str, sections: Mapping[str, list[str]]
) -> None:
    sys.stdout.write(f"\n{command}\n\n")
    sys.stdout.write(render_table(rows))
    for title, notes in sections.items():
        sys.stdout.write(f"\n{title}:\n")
        for note in notes:
            sys.stdout.write(f"- {note}\n")
    sys.stdout.flush()


def figure_of_line(line: str) -> str | None:
    """The figure name (`--only NAME`) in a table line's command column, if any."""
    match = _ONLY.search(line.rsplit("|", 2)[-2]) if line.count("|") >= 2 else None
    return match[1] if match else None


# note sections of BENCHMARKS.md written from elsewhere: the figures of a tests/fault run
FOREIGN_SECTIONS = ("Fault injection",)


@dataclass(frozen=True)
class Previous:
    """What a partial run keeps from the BENCHMARKS.md it rewrites."""

    full_run_date: str | None  # of the last run that measured every figure
    table_lines: list[str]  # rows, without the header
    sections: dict[str, list[str]]  # "## title" -> its lines


def read_previous(path: Path) -> Previous:
    """The date, table rows and note sections of an existing BENCHMARKS.md (empty if none)."""
    if not path.exists():
        return Previous(None, [], {})
    date: str | None = None
    full_run_date: str | None = None
    rows: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("- date: ") and date is None:
            date = line.removeprefix("- date: ")
        elif line.startswith(_KEPT_LINE):
            full_run_date = line.removeprefix(_KEPT_LINE).strip()
        elif (
            line.startswith("| ")
            and current is None  # a table inside a note section (Fault injection) is its own
            and not line.startswith(("| figure |", "| --- |"))
        ):
            rows.append(line)
        elif line.startswith("## "):
            current = sections.setdefault(line.removeprefix("## ").strip(), [])
        elif current is not None and line.strip():
            current.append(line)
    return Previous(full_run_date or date, rows, sections)


def write_markdown(
    rows: list[Figure | Skipped],
    *,
    command: str,
    sections: Mapping[str, list[str]],
    services: list[str],
    elapsed_s: float,
    figure_order: Sequence[str] = (),
    kept_figures: Collection[str] = (),
    path: Path = BENCHMARKS_MD,
) -> None:
    """Rewrite BENCHMARKS.md with the date, machine, command, table and note sections.

    Args:
        rows: this run's rows.
        command: the command of this run.
        sections: note sections by title ("Notes", "Media notes"), in order; an empty one
            keeps the previous file's section of that title (when kept_figures is given).
        services: lines about the services and the machine's load.
        elapsed_s: how long the run took.
        figure_order: figure names (as in `--only NAME`) in table order; rows of other
            figures go last.
        kept_figures: figures this run did not measure: their rows, and the note sections
            this run does not write, are kept from the file as it was, so `--only NAME`
            updates one figure without dropping the others.
        path: the file to write.
    """
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    on_file = read_previous(path)
    # a full run rewrites everything but the sections other tools fill (tests/fault)
    own = {title: lines for title, lines in on_file.sections.items() if title in FOREIGN_SECTIONS}
    previous = on_file if kept_figures else Previous(None, [], own)
    kept_rows = [line for line in previous.table_lines if figure_of_line(line) in kept_figures]
    table = render_table(rows).splitlines()
    ranked = {name: index for index, name in enumerate(figure_order)}
    body = sorted(
        [*kept_rows, *table[2:]], key=lambda line: ranked.get(figure_of_line(line) or "", 999)
    )
    kept_line = [f"{_KEPT_LINE}{previous.full_run_date}"] if kept_rows else []
    kept_sections = {
        title: [line if line.startswith("|") else line.removeprefix("- ") for line in lines]
        for title, lines in previous.sections.items()
    }
    all_sections = {
        title: notes or kept_sections.get(title, []) for title, notes in sections.items()
    }
    for title, notes in kept_sections.items():
        all_sections.setdefault(title, notes)
    parts = [
        "# Benchmarks\n",
        "Written by `bench/` (`python -m bench.run`); do not edit by hand, run it again.\n",
        f"- date: {now}",
        f"- machine: {machine_line()}",
        *[f"- {line}" for line in services],
        f"- command: `{command}` (took {elapsed_s:.0f} s)",
        *kept_line,
        "",
        "\n".join([*table[:2], *body]) + "\n",
    ]
    for title, notes in all_sections.items():
        if notes:
            # table lines (the fault-injection figures) are kept as they are, notes as bullets
            lines = [note if note.startswith("|") else f"- {note}" for note in notes]
            parts += [f"## {title}\n", *lines, ""]
    path.write_text("\n".join(parts), encoding="utf-8")
