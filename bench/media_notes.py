"""The notes under the table for the media figure: method, and where the measured time went."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from bench.media_rows import MAX_RATIO, SpeedRun, median_run
from bench.media_system import FinishedJob

if TYPE_CHECKING:
    from bench.media import MediaJobs, MediaSizes


def _shares(job: FinishedJob, *, top: int = 3) -> str:
    stages = sorted(job.stages, key=lambda s: s.run_s, reverse=True)[:top]
    return ", ".join(
        f"{s.name} {s.run_s:.1f} s ({100 * s.run_s / job.wall_s:.0f}%)" for s in stages
    )


def _lengths(runs: list[SpeedRun]) -> str:
    return ", ".join(f"{run.job.view['custom_id']} {run.media_s:.1f} s" for run in runs)


def _stage_s(job: FinishedJob, name: str) -> float:
    return next(s.run_s for s in job.stages if s.name == name)


def _vertical_note(run: SpeedRun, fast_s: float | None) -> str:
    showcase, compose = _stage_s(run.job, "showcase"), _stage_s(run.job, "compose")
    verdict = (
        f"missed: {run.ratio:.2f}x > {MAX_RATIO}x"
        if run.ratio > MAX_RATIO
        else f"met ({run.ratio:.2f}x)"
    )
    single = f"{run.baseline_s:.1f} s at `medium`"
    if fast_s is not None:
        single += f", {fast_s:.1f} s at `veryfast`"
    return (
        f"9:16 with burned subtitles, {verdict}. The picture is encoded twice: the showcase stage "
        f"renders the shots and encodes 1080x1920 H.264 (x264 veryfast) in {showcase:.1f} s, then "
        f"compose decodes that, burns the captions with libass and encodes it again in "
        f"{compose:.1f} s ({100 * compose / run.job.wall_s:.0f}% of the job; compose also "
        "measures and normalises the loudness and writes the poster). One ffmpeg pass that draws, "
        f"burns and encodes the same length takes {single}. Without burn-in compose copies the "
        "video stream, as in the 16:9 jobs; drawing the captions in the showcase stage's own "
        "frames (or burning them in its encoder's filter graph) would remove the second encode."
    )


def media_notes(*, jobs: MediaJobs, sizes: MediaSizes) -> list[str]:
    cores = os.cpu_count() or 1
    news, product = median_run(jobs.news), median_run(jobs.product)
    notes = [
        "Media figures run on the embedded default only (stage work does not depend on the "
        "database or broker), through `producer.embedded.embedded_system()` as `mediaq demo` "
        f"runs it: the API in a thread of the bench process, one `mediaq worker` process "
        f"(prefork, {cores} children), SQLite, the embedded file broker, local object folder. "
        "One job per batch with nothing else submitted, after warm-up jobs (the zh and es "
        "articles, two at once so that both pool children render an anchor, and one product) so "
        "that the worker's start, engine loading and the dev C2PA certificate are not timed. "
        "Job time: from just before the POST to the job's finished_at (all stages, both "
        "credentials included).",
        "ffmpeg alone: one ffmpeg process, `-f lavfi -i testsrc2=size=WxH:rate=25 -f lavfi -i "
        "sine=frequency=440:sample_rate=48000 -t D` encoded with the deliverable's settings "
        "(`H264Settings().args(fps=25)`: libx264 veryfast, CRF 20, High, yuv420p, 2 s GOP; "
        "AAC-LC 48 kHz 160 kb/s; +faststart), D = the job's real narration length. "
        + (
            f"Full run: {len(jobs.news)} rounds for news_anchor and {len(jobs.product)} for "
            "product_showcase 16:9, each with another article or product, in turn with ffmpeg "
            "alone: ffmpeg (nominal length), job, ffmpeg (its length), job, ffmpeg, ...; a job's "
            "baseline is the mean time per media second of the renders just before and after "
            "it, times D; the row shows the median round. The 9:16 job: one round, one ffmpeg "
            "pass after it (its SRT is burned in)."
            if sizes.is_bracketed
            else "Quick run: one round, one render just after the job."
        ),
        f"Narration lengths (the tts output): news_anchor {_lengths(jobs.news)} (params "
        f"script.target_duration_s={sizes.news_script['target_duration_s']}), product 16:9 "
        f"{_lengths(jobs.product)}, product 9:16 {jobs.vertical.media_s:.1f} s "
        f"({jobs.vertical.job.view['custom_id']}). The sample catalog rows narrate 13-17 s "
        "whatever the target (every feature is read, nothing more), so the product jobs use "
        "bench rows built on sample ones with a feature or three more (bench/media_inputs.py).",
        f"Where the time goes (largest stages, share of the job's wall time; median rounds): "
        f"news_anchor {_shares(news.job)}; product 16:9 {_shares(product.job)}; product 9:16 "
        f"{_shares(jobs.vertical.job)}. anchor and showcase render frames in numpy and stream "
        "them to one x264 process; compose stream-copies that video (16:9 jobs), measures and "
        "normalises the narration's loudness, muxes AAC, writes the poster and measures the "
        "result.",
        _vertical_note(jobs.vertical, jobs.vertical_fast.wall_s if jobs.vertical_fast else None),
        "A/V sync: per frame of the signed MP4, dark pixels in the drawn presenter's mouth box "
        "(from the anchor params) against the RMS of the decoded AAC over the frame; the lag of "
        "best correlation within ±5 frames (positive: picture late). The method of "
        "tests/workers/anchor/test_anchor_stage.py (bench/lipsync.py), here on the deliverable, "
        "so muxing and the AAC edit list are inside it.",
        "Subtitle violations: workers.captions.check.find_violations on what the subtitles stage "
        "stored (cues JSON with its rules, tts timings, script text), for the 12 sample articles "
        "run through a bench-only template holding news_anchor's script, tts and subtitles "
        "stages with the same params (`news_captions_bench`, registered in the bench process).",
        "Loudness: ffmpeg ebur128 (integrated, true peak) on each signed MP4; the targets are "
        "the compose stage's: loudness_lufs in the templates (−16 LUFS, within the ±1 LU that "
        "tests/e2e checks) and its true-peak ceiling (−1.5 dBTP default). compose limits the "
        "narration 1.0 dB under the ceiling (workers/media/loudness.py `_LIMITER_MARGIN_DB`), "
        "with or without limiting, because the AAC encoder adds up to about 0.9 dB: measured "
        "once on the SNK-TRL-OL narration of an earlier demo run, the limited WAV peaked at "
        "−1.9 dBTP and its AAC 160 kb/s track at −1.0 dBTP (with the former 0.5 dB margin). "
        "compose measures the finished MP4 (loudness.json) but does not act on it. Which file "
        "comes closest to the ceiling changes from run to run because the same "
        "script does not give the same samples: espeak-ng keeps synthesis state between calls "
        "in a worker process (measured: one English text synthesised twice in a row differs by "
        "493 samples and its phoneme events by ~8 ms; wildfire-season-0414 at 60 s made a "
        "−0.8 dBTP MP4 after other jobs in the worker, −1.7 dBTP as the first job).",
        "Upscale: each original area-averaged down 4x, then back up 4x by the upscale stage "
        "(default lanczos engine, PNG out so no JPEG loss) and by plain ffmpeg bicubic; "
        "PSNR/SSIM against the original by workers.media.quality.psnr_ssim (RGB means).",
    ]
    if sizes.has_demo:
        notes.append(
            "`mediaq demo`: `python -m producer.cli demo --data-dir <fresh folder>` as a "
            "subprocess, timed from start to exit: API and worker start, the news batch, then the "
            "product batch, each waited for and every output (with its provenance) downloaded "
            "into the folder; the demo rows audit those downloads."
        )
    return notes
