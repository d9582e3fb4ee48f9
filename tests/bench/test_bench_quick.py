"""The quick bench on the embedded default: every figure is measured and is a positive number."""

from __future__ import annotations

import math

from bench.report import Figure
from bench.run import run


def test_quick_bench_measures_every_embedded_figure() -> None:
    # Given the embedded default only (no services), at the quick sizes
    # When the whole bench runs without writing BENCHMARKS.md
    rows = run(quick=True, only_embedded=True, write=False)

    # Then every row is a measurement (no skip, no error) with positive, finite numbers
    assert rows, "the bench returned no rows"
    for row in rows:
        assert isinstance(row, Figure), row
        assert row.numbers, row
        for name, value in row.numbers.items():
            assert math.isfinite(value) and value > 0, (row.figure, name, value)
    measured = " ".join(row.figure for row in rows)
    for figure in ("accept", "publish", "GET /v1/batches", "GET /v1/jobs", "send → start"):
        assert figure in measured
