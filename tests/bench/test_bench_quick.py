"""The quick bench on the embedded default: every figure is measured and is a positive number."""

from __future__ import annotations

import math

import pytest

from bench.report import Figure, Skipped
from bench.run import run

# the whole quick bench runs once for the module, the media part included
pytestmark = pytest.mark.timeout(900)

# counts of things that should not happen, and a lag: 0 is the best value, not a failure
ZERO_IS_A_RESULT = frozenset({"violations", "max_abs_lag_frames", "max_deviation_lu", "spread"})
MEDIA_FIGURES = (
    "news_anchor 10 s job",
    "news_anchor stages",
    "product_showcase 13 s job, 16:9",
    "product_showcase 16:9 stages",
    "product_showcase 10 s job, 9:16",
    "product_showcase 9:16 stages",
    "A/V sync",
    "subtitle rule violations, 12 sample articles",
    "loudness of the finished MP4s",
    "upscale x4 PSNR/SSIM, 8 sample product photos",
    "upscale x4 PSNR/SSIM, synthetic",
)


@pytest.fixture(scope="module")
def quick_rows() -> list[Figure | Skipped]:
    # the embedded default only (no services), at the quick sizes, BENCHMARKS.md untouched
    return run(quick=True, only_embedded=True, write=False)


def assert_measured(row: Figure | Skipped) -> None:
    assert isinstance(row, Figure), row
    assert row.numbers, row
    for name, value in row.numbers.items():
        assert math.isfinite(value), (row.figure, name, value)
        if name in ZERO_IS_A_RESULT:
            assert value >= 0, (row.figure, name, value)
        else:
            assert value > 0, (row.figure, name, value)


def test_quick_bench_measures_every_embedded_figure(quick_rows: list[Figure | Skipped]) -> None:
    # Then every row is a measurement (no skip, no error) with positive, finite numbers
    assert quick_rows, "the bench returned no rows"
    for row in quick_rows:
        assert_measured(row)
    measured = " ".join(row.figure for row in quick_rows)
    for figure in ("accept", "publish", "GET /v1/batches", "GET /v1/jobs", "send → start"):
        assert figure in measured
    for figure in ("one vs two worker processes", "peak memory per CPU worker", "re-submitting"):
        assert figure in measured
    assert "growth: time per voiceover job at 5 / 10 / 20 jobs" in measured


def test_quick_media_bench_measures_speed_sync_captions_loudness_and_upscale(
    quick_rows: list[Figure | Skipped],
) -> None:
    # Given the media rows of the quick run (short jobs through the real embedded system)
    media = [row for row in quick_rows if "--only media" in row.command]

    # Then each media figure is there, measured, with positive numbers
    for name in MEDIA_FIGURES:
        matching = [row for row in media if row.figure.startswith(name)]
        assert len(matching) == 1, (name, [row.figure for row in media])
        assert_measured(matching[0])
    figures = [row for row in media if isinstance(row, Figure)]
    assert sum("ratio" in row.numbers for row in figures) == 3  # news, 16:9, 9:16 vs ffmpeg
    # and every sample article's caption track was audited
    [captions] = [row for row in figures if row.figure.startswith("subtitle rule violations")]
    assert captions.numbers["tracks"] == 12
