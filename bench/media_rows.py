"""Rows of the media figure: measurements in, `Figure`s with their targets out."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.caption_audit import Audit
from bench.lipsync import SyncResult
from bench.media_baseline import Render
from bench.media_system import FinishedJob, StageTime
from bench.report import Figure
from bench.setups import EMBEDDED, SETUP_LABELS
from bench.upscale_quality import Comparison
from workers.media.loudness import Loudness

SETUP = SETUP_LABELS[EMBEDDED]
MAX_RATIO = 1.5
MAX_SYNC_LAG_FRAMES = 1
LOUDNESS_TOLERANCE_LU = 1.0


@dataclass(frozen=True)
class SpeedRun:
    """One timed job and the ffmpeg-alone renders beside it."""

    job: FinishedJob
    media_s: float  # the narration's length, which sets the video's
    renders: Sequence[Render]

    @property
    def baseline_s(self) -> float:
        """ffmpeg alone for `media_s` of media: mean seconds per media second, times media_s."""
        return statistics.fmean(r.wall_per_media_s for r in self.renders) * self.media_s

    @property
    def ratio(self) -> float:
        return self.job.wall_s / self.baseline_s


def median_run(runs: Sequence[SpeedRun]) -> SpeedRun:
    """The round with the median ratio (the upper one of an even count)."""
    return sorted(runs, key=lambda run: run.ratio)[len(runs) // 2]


def speed_row(
    runs: Sequence[SpeedRun], *, figure: str, baseline: str, is_target_size: bool, command: str
) -> Figure:
    """Job wall time against ffmpeg alone, as a ratio (target ≤ 1.5x at the full size).

    With several rounds the row shows the median round and every round's ratio.
    """
    run = median_run(runs)
    renders = " / ".join(f"{r.wall_s:.1f} s for {r.duration_s:.1f} s" for r in run.renders)
    rounds = (
        f"median of {len(runs)} rounds ({', '.join(f'{r.ratio:.2f}x' for r in runs)}): "
        if len(runs) > 1
        else ""
    )
    return Figure(
        figure=figure,
        setup=SETUP,
        value=(
            f"{rounds}**{run.ratio:.2f}x**: job {run.job.wall_s:.1f} s (submit → succeeded) vs "
            f"{baseline} {run.baseline_s:.1f} s for the same {run.media_s:.1f} s "
            f"(ffmpeg runs beside it: {renders})"
        ),
        target=f"≤ {MAX_RATIO}x" if is_target_size else f"(≤ {MAX_RATIO}x at the full size)",
        command=command,
        numbers={
            "ratio": run.ratio,
            "job_s": run.job.wall_s,
            "ffmpeg_s": run.baseline_s,
            "media_s": run.media_s,
            "rounds": len(runs),
        },
        is_met=(run.ratio <= MAX_RATIO) if is_target_size else None,
    )


def idle_s(job: FinishedJob) -> float:
    """Seconds of the job's wall time in which none of its stages was running."""
    spans = sorted((s.started_at, s.finished_at) for s in job.stages)
    busy, end = 0.0, job.submitted_at
    for start, finish in spans:
        start = max(start, end)
        if finish > start:
            busy += finish - start
            end = finish
    return job.wall_s - busy


def stage_summary(stages: Sequence[StageTime]) -> str:
    """Each stage's run time in start order: "script 0.01 · tts 0.08 · anchor 11.06 …"."""
    ordered = sorted(stages, key=lambda s: (s.started_at, s.name))
    return " · ".join(
        f"{s.name} {s.run_s:.2f}{' (cache hit)' if s.is_cache_hit else ''}" for s in ordered
    )


def stages_row(job: FinishedJob, *, figure: str, command: str) -> Figure:
    """Where the job's time went: each stage's run time, and time with no stage running."""
    stages = job.stages
    idle = idle_s(job)
    numbers = {f"{s.name}_s": s.run_s for s in stages}
    numbers["no_stage_running_s"] = idle
    return Figure(
        figure=figure,
        setup=SETUP,
        value=(
            f"{stage_summary(stages)} s; no stage running {idle:.2f} s of {job.wall_s:.1f} s "
            "(submission, queue hops)"
        ),
        target="",
        command=command,
        numbers=numbers,
    )


def sync_row(results: Mapping[str, SyncResult], *, figure: str, command: str) -> Figure:
    """Best-correlation lag per language (target |lag| ≤ 1 frame)."""
    worst = max(abs(r.lag_frames) for r in results.values())
    if len(results) <= 6:
        parts = [
            f"{name} {r.lag_frames:+d} (r {r.correlation:.2f}, {r.frame_count:,} frames)"
            for name, r in results.items()
        ]
        value = "lag " + ", ".join(parts)
    else:
        lags = Counter(r.lag_frames for r in results.values())
        shown = ", ".join(f"{lag:+d} in {count}" for lag, count in sorted(lags.items()))
        lowest = min(r.correlation for r in results.values())
        value = f"lag {shown} of {len(results)} videos (r ≥ {lowest:.2f})"
    return Figure(
        figure=figure,
        setup=SETUP,
        value=value,
        target=f"|lag| ≤ {MAX_SYNC_LAG_FRAMES} frame",
        command=command,
        numbers={
            "max_abs_lag_frames": worst,
            "min_correlation": min(r.correlation for r in results.values()),
        },  # fmt: skip
        is_met=worst <= MAX_SYNC_LAG_FRAMES,
    )


def violations_row(audit: Audit, *, figure: str, command: str) -> Figure:
    offenders = f"; tracks: {', '.join(audit.offenders)}" if audit.offenders else ""
    return Figure(
        figure=figure,
        setup=SETUP,
        value=(
            f"{audit.violations} violations in {audit.tracks} tracks, {audit.cues:,} cues "
            f"(by rule: {audit.summary()}{offenders})"
        ),
        target="0",
        command=command,
        numbers={"violations": audit.violations, "tracks": audit.tracks, "cues": audit.cues},
        is_met=audit.violations == 0,
    )


def loudness_row(
    measured: Mapping[str, Loudness],
    *,
    target_lufs: float,
    ceiling_dbtp: float,
    figure: str,
    command: str,
) -> Figure:
    """Integrated loudness of finished MP4s (within ±1 LU) and their true peak (≤ the ceiling)."""
    deviation = max(abs(m.integrated_lufs - target_lufs) for m in measured.values())
    shown = (
        ", ".join(f"{name} {m.integrated_lufs:.1f}" for name, m in measured.items())
        if len(measured) <= 6
        else _spread(measured)
    )
    peak_name, peak = max(
        ((name, m.true_peak_dbtp) for name, m in measured.items()), key=lambda pair: pair[1]
    )
    over = [f"{name} {m.true_peak_dbtp:.1f}" for name, m in measured.items()
            if m.true_peak_dbtp > ceiling_dbtp]  # fmt: skip
    peaks = f"over the ceiling: {', '.join(over)} dBTP" if over else f"max {peak:.1f} dBTP"
    return Figure(
        figure=figure,
        setup=SETUP,
        value=(
            f"{shown} LUFS (max deviation {deviation:.1f} LU); true peak {peaks} "
            f"(highest: {peak_name})"
        ),
        target=(
            f"{target_lufs:.0f} LUFS ± {LOUDNESS_TOLERANCE_LU:.0f} LU, "
            f"true peak ≤ {ceiling_dbtp:.1f} dBTP"
        ),
        command=command,
        numbers={"max_deviation_lu": deviation, "files": len(measured)},
        is_met=deviation <= LOUDNESS_TOLERANCE_LU and not over,
    )


def _spread(measured: Mapping[str, Loudness]) -> str:
    values = sorted(m.integrated_lufs for m in measured.values())
    return (
        f"{len(values)} files: min {values[0]:.1f}, median {statistics.median(values):.1f}, "
        f"max {values[-1]:.1f}"
    )


def upscale_row(comparison: Comparison, *, figure: str, command: str) -> Figure:
    c = comparison
    return Figure(
        figure=figure,
        setup="in-process: upscale stage, lanczos engine",
        value=(
            f"default {c.default_psnr_db:.2f} dB / SSIM {c.default_ssim:.4f} vs bicubic "
            f"{c.bicubic_psnr_db:.2f} dB / SSIM {c.bicubic_ssim:.4f} (means of {c.images})"
        ),
        target="≥ bicubic on both",
        command=command,
        numbers={
            "default_psnr_db": c.default_psnr_db,
            "default_ssim": c.default_ssim,
            "bicubic_psnr_db": c.bicubic_psnr_db,
            "bicubic_ssim": c.bicubic_ssim,
        },  # fmt: skip
        is_met=c.is_at_least_bicubic,
    )
