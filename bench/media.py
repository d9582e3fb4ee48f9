"""Figure "media": finished media against ffmpeg alone, and the quality figures of issue 3.

Through the real embedded system (bench/media_system.py), one job per batch and nothing else
running, after warm-up jobs, side by side with ffmpeg alone rendering the same length of the
same format (bench/media_baseline.py):

- a ~60 s news_anchor job (all stages) vs ffmpeg alone encoding that long a 720p clip;
- a ~20 s product_showcase job at 16:9 720p, the same way;
- a ~30 s 9:16 1080x1920 product_showcase job with burned subtitles vs one single-pass ffmpeg
  render of that output at x264 `medium` (and, for the explanation, at `veryfast`).

Then, on the outputs: A/V sync lag of English, Chinese and Spanish anchor videos
(bench/lipsync.py), subtitle rule violations over the 12 sample articles (bench/caption_audit.py),
loudness of the finished MP4s, upscale PSNR/SSIM against bicubic (bench/upscale_quality.py), and
(full run only) the wall time of `mediaq demo` (bench/demo_run.py), whose outputs are audited too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench import media_inputs as inputs
from bench import media_rows
from bench.caption_audit import Audit, audit_tracks, demo_tracks, register_captions_template
from bench.demo_run import DemoRun, run_demo
from bench.lipsync import SyncResult, measure_sync
from bench.media_baseline import Render, render_test_pattern
from bench.media_notes import media_notes
from bench.media_rows import SpeedRun
from bench.media_system import FinishedJob, MediaSystem
from bench.report import Figure
from bench.setups import Setup
from bench.upscale_quality import compare, write_synthetic_stills
from workers.media.ffmpeg import H264Settings
from workers.media.loudness import Loudness, measure_loudness

FPS = 25
VERTICAL = (1080, 1920)
UPSCALE_FACTOR = 4
DEMO_TIMEOUT_S = 1200


@dataclass(frozen=True)
class MediaSizes:
    """What one run submits; QUICK keeps the same steps on shorter media."""

    news_articles: tuple[str, ...]  # one round each
    news_script: Mapping[str, Any]
    warmup_script: Mapping[str, Any]  # the zh and es articles: warm-up and sync samples
    product_rounds: int
    product_features: int | None  # None: every feature of the bench rows
    backpack_features: int
    vertical_script: Mapping[str, Any]
    nominal_s: tuple[float, float, float]  # news, product 16:9, product 9:16
    is_bracketed: bool  # an ffmpeg-alone render before the job as well as after
    has_extra_baselines: bool
    has_demo: bool
    job_timeout_s: float


FULL = MediaSizes(
    news_articles=inputs.LONG_ARTICLES,
    news_script={"target_duration_s": 60},
    warmup_script={"target_duration_s": 20},
    product_rounds=3,
    product_features=None,
    backpack_features=7,
    vertical_script={"target_duration_s": 30},
    nominal_s=(60, 20, 30),
    is_bracketed=True,
    has_extra_baselines=True,
    has_demo=True,
    job_timeout_s=900,
)
QUICK = MediaSizes(
    news_articles=(inputs.SHORT_ARTICLE,),
    news_script={"target_duration_s": 10, **inputs.SHORT_SCRIPT},
    warmup_script={"target_duration_s": 5, **inputs.SHORT_SCRIPT},
    product_rounds=1,
    product_features=1,
    backpack_features=1,
    vertical_script={"target_duration_s": 10},
    nominal_s=(10, 13, 10),
    is_bracketed=False,
    has_extra_baselines=False,
    has_demo=False,
    job_timeout_s=300,
)


@dataclass
class MediaResult:
    rows: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class MediaJobs:
    """What the system part of the run leaves for the rows and notes."""

    news: list[SpeedRun]  # one per round
    product: list[SpeedRun]
    vertical: SpeedRun
    vertical_fast: Render | None
    samples: dict[str, FinishedJob]  # zh, es news jobs
    videos: dict[str, Path] = field(default_factory=dict)
    audit: Audit = field(default_factory=Audit)


def _log(text: str) -> None:
    sys.stderr.write(f"[bench] media: {text}\n")
    sys.stderr.flush()


def _template_params(template: str, stage: str) -> dict[str, Any]:
    from schemas.pipelines import builtin_templates

    return dict(builtin_templates()[template].node(stage).params)


def measure(setup: Setup, *, quick: bool, command: str) -> MediaResult:
    """Every media row, measured on a fresh embedded data folder inside `setup.data_dir`."""
    sizes = QUICK if quick else FULL
    work = setup.data_dir / "media-work"
    work.mkdir(parents=True)
    with MediaSystem(data_dir=setup.data_dir / "media-data") as system:
        register_captions_template()
        jobs = _run_jobs(system, sizes=sizes, work=work)
    result = MediaResult()
    _speed_rows(result, jobs, sizes=sizes, command=command)
    _quality_rows(result, jobs, command=command)
    _upscale_rows(result, work=work, command=command)
    if sizes.has_demo:
        _demo_rows(result, demo=_demo(setup), command=command)
    result.notes[:0] = media_notes(jobs=jobs, sizes=sizes)
    return result


def _run_jobs(system: MediaSystem, *, sizes: MediaSizes, work: Path) -> MediaJobs:
    _log("warm-up: zh and es news, one product")
    samples = _warm_up(system, sizes=sizes)
    news_nominal, product_nominal, vertical_nominal = sizes.nominal_s
    _log(f"news_anchor jobs ({news_nominal:.0f} s) and ffmpeg alone")
    news = _speed_rounds(
        system,
        submits=[
            partial(
                system.submit_items,
                template="news_anchor",
                items=[inputs.news_item(article, tag="timed")],
                params={"script": dict(sizes.news_script)},
            )
            for article in sizes.news_articles
        ],
        render=_pattern_render(work, size=(1280, 720), h264=H264Settings()),
        nominal_s=news_nominal if sizes.is_bracketed else None,
        timeout_s=sizes.job_timeout_s,
    )
    _log(f"product_showcase 16:9 jobs ({product_nominal:.0f} s) and ffmpeg alone")
    rows = inputs.product_rows(count=sizes.product_rounds, feature_count=sizes.product_features)
    product = _speed_rounds(
        system,
        submits=[
            partial(system.submit_catalog, rows=[row.row], photos=row.photos, params={})
            for row in rows
        ],
        render=_pattern_render(work, size=(1280, 720), h264=H264Settings()),
        nominal_s=product_nominal if sizes.is_bracketed else None,
        timeout_s=sizes.job_timeout_s,
    )
    _log(f"product_showcase 9:16 job ({vertical_nominal:.0f} s) and one ffmpeg pass")
    vertical, vertical_fast = _vertical_run(system, sizes=sizes, work=work)
    jobs = MediaJobs(news, product, vertical, vertical_fast, samples)
    labelled = {_numbered("news en", i, news): run.job for i, run in enumerate(news)}
    labelled.update(
        {_numbered("product 16:9", i, product): run.job for i, run in enumerate(product)}
    )
    labelled["product 9:16"] = vertical.job
    labelled.update({f"news {lang}": job for lang, job in samples.items()})
    for label, job in labelled.items():
        path = work / f"{label.replace(' ', '-').replace(':', 'x')}.mp4"
        jobs.videos[label] = system.download(output=job.output("credentials", "media"), path=path)
    _log("subtitles of the 12 sample articles")
    jobs.audit = _caption_audit(system, work=work, timeout_s=sizes.job_timeout_s)
    return jobs


def _numbered(label: str, index: int, runs: Sequence[SpeedRun]) -> str:
    return f"{label} {index + 1}" if len(runs) > 1 else label


def _warm_up(system: MediaSystem, *, sizes: MediaSizes) -> dict[str, FinishedJob]:
    """Boot the worker, load engines in both pool children, make the dev C2PA certificate.

    Two anchor jobs at once so each prefork child renders one; they are the zh and es samples.
    """
    items = [inputs.news_item(cid, tag="sample") for cid in inputs.SYNC_ARTICLES.values()]
    news_ids, news_at = system.submit_items(
        template="news_anchor", items=items, params={"script": dict(sizes.warmup_script)}
    )
    mug = inputs.warmup_row()
    product_ids, product_at = system.submit_catalog(rows=[mug.row], photos=mug.photos, params={})
    news = system.wait_jobs(news_ids, submitted_at=news_at, timeout_s=sizes.job_timeout_s)
    system.wait_jobs(product_ids, submitted_at=product_at, timeout_s=sizes.job_timeout_s)
    return dict(zip(inputs.SYNC_ARTICLES, news, strict=True))


def _pattern_render(
    work: Path, *, size: tuple[int, int], h264: H264Settings, video_filter: str | None = None
) -> Callable[[float], Render]:
    def render(duration_s: float) -> Render:
        return render_test_pattern(
            out_path=work / "ffmpeg-alone.mp4", width=size[0], height=size[1], fps=FPS,
            duration_s=duration_s, h264=h264, video_filter=video_filter,
        )  # fmt: skip

    return render


def _speed_rounds(
    system: MediaSystem,
    *,
    submits: Sequence[Callable[[], tuple[list[str], float]]],
    render: Callable[[float], Render],
    nominal_s: float | None,
    timeout_s: float,
) -> list[SpeedRun]:
    """ffmpeg alone and jobs in turn: [ffmpeg,] job, ffmpeg, job, ffmpeg, ...

    Each job's baseline is the ffmpeg-alone renders just before (when there is one: at the
    nominal length before the first job) and just after it (at the job's narration length).
    """
    renders = [render(nominal_s)] if nominal_s else []
    runs = []
    for submit in submits:
        job_ids, submitted_at = submit()
        [job] = system.wait_jobs(job_ids, submitted_at=submitted_at, timeout_s=timeout_s)
        media_s = float(job.output("tts", "audio")["duration_s"])
        before = renders[-1:]
        renders.append(render(media_s))
        runs.append(SpeedRun(job=job, media_s=media_s, renders=[*before, renders[-1]]))
    return runs


def _vertical_run(
    system: MediaSystem, *, sizes: MediaSizes, work: Path
) -> tuple[SpeedRun, Render | None]:
    """The 9:16 job, then one pass of ffmpeg burning the job's own SRT (medium, veryfast)."""
    from workers.captions.burnin import subtitles_filter

    backpack = inputs.backpack_row(feature_count=sizes.backpack_features)
    params = {
        "showcase": {"width": VERTICAL[0], "height": VERTICAL[1]},
        "compose": {"aspect": "9:16", "burn_subtitles": True},
        "script": dict(sizes.vertical_script),
    }
    job_ids, submitted_at = system.submit_catalog(
        rows=[backpack.row], photos=backpack.photos, params=params
    )
    [job] = system.wait_jobs(job_ids, submitted_at=submitted_at, timeout_s=sizes.job_timeout_s)
    srt = system.download(output=job.output("subtitles", "srt"), path=work / "vertical.srt")
    burn = subtitles_filter(srt_path=srt, width=VERTICAL[0], height=VERTICAL[1])
    media_s = float(job.output("tts", "audio")["duration_s"])
    medium = _pattern_render(work, size=VERTICAL, h264=H264Settings(preset="medium"),
                             video_filter=burn)(media_s)  # fmt: skip
    fast = None
    if sizes.has_extra_baselines:
        fast = _pattern_render(work, size=VERTICAL, h264=H264Settings(), video_filter=burn)(media_s)
    return SpeedRun(job=job, media_s=media_s, renders=[medium]), fast


def _caption_audit(system: MediaSystem, *, work: Path, timeout_s: float) -> Audit:
    items = inputs.all_news_items(tag="captions")
    job_ids, submitted_at = system.submit_items(
        template="news_captions_bench", items=items, params={}
    )
    tracks = []
    for job in system.wait_jobs(job_ids, submitted_at=submitted_at, timeout_s=timeout_s):
        folder = work / "captions" / job.view["custom_id"]
        folder.mkdir(parents=True)
        paths = [
            system.download(output=job.output(stage, port), path=folder / f"{port}.json")
            for stage, port in (("subtitles", "cues"), ("tts", "timings"), ("script", "script"))
        ]
        tracks.append((job.view["custom_id"], *paths))
    return audit_tracks(tracks)


def _speed_rows(result: MediaResult, jobs: MediaJobs, *, sizes: MediaSizes, command: str) -> None:
    is_full = sizes is FULL
    news_s, product_s, vertical_s = sizes.nominal_s
    pattern = "ffmpeg alone (testsrc2 + AAC, same x264 settings)"
    specs = [
        (jobs.news, f"news_anchor {news_s:.0f} s job, all stages, 1280x720", pattern,
         "news_anchor stages"),
        (jobs.product, f"product_showcase {product_s:.0f} s job, 16:9 1280x720", pattern,
         "product_showcase 16:9 stages"),
        ([jobs.vertical],
         f"product_showcase {vertical_s:.0f} s job, 9:16 1080x1920, burned subtitles",
         "one ffmpeg pass (testsrc2 + burned SRT + AAC, x264 medium)",
         "product_showcase 9:16 stages"),
    ]  # fmt: skip
    for runs, figure, baseline, stages in specs:
        result.rows.append(media_rows.speed_row(
            runs, figure=f"{figure} vs {baseline.split(' (')[0]}", baseline=baseline,
            is_target_size=is_full, command=command,
        ))  # fmt: skip
        median_job = media_rows.median_run(runs).job
        label = f"{stages}, run time each" + (" (median round)" if len(runs) > 1 else "")
        result.rows.append(media_rows.stages_row(median_job, figure=label, command=command))
    if jobs.vertical_fast is not None:
        fast = SpeedRun(jobs.vertical.job, jobs.vertical.media_s, [jobs.vertical_fast])
        row = media_rows.speed_row(
            [fast], figure="the same 9:16 job vs one ffmpeg pass at x264 veryfast (its preset)",
            baseline="one ffmpeg pass (x264 veryfast)", is_target_size=False, command=command,
        )  # fmt: skip
        row.target, row.is_met = "", None
        result.rows.append(row)


def _quality_rows(result: MediaResult, jobs: MediaJobs, *, command: str) -> None:
    anchor_params = _template_params("news_anchor", "anchor")
    sync: dict[str, SyncResult] = {}
    for label, path in jobs.videos.items():
        if label.startswith("news"):
            name = label.removeprefix("news ")
            sync[name] = measure_sync(video_path=path, anchor_params=anchor_params, fps=FPS)
    result.rows.append(media_rows.sync_row(
        sync, figure="A/V sync of news_anchor MP4s (mouth pixels vs audio energy)",
        command=command,
    ))  # fmt: skip
    result.rows.append(media_rows.violations_row(
        jobs.audit, figure="subtitle rule violations, 12 sample articles", command=command
    ))  # fmt: skip
    loudness = {label: measure_loudness(path=path) for label, path in jobs.videos.items()}
    result.rows.append(media_rows.loudness_row(
        loudness, **_loudness_targets(), figure="loudness of the finished MP4s", command=command
    ))  # fmt: skip


def _loudness_targets() -> dict[str, float]:
    """The compose stage's targets in the templates (both use the same)."""
    from workers.stages.compose import DEFAULT_TRUE_PEAK_DBTP

    params = _template_params("news_anchor", "compose")
    return {
        "target_lufs": float(params["loudness_lufs"]),
        "ceiling_dbtp": float(params.get("true_peak", DEFAULT_TRUE_PEAK_DBTP)),
    }


def _upscale_rows(result: MediaResult, *, work: Path, command: str) -> None:
    _log("upscale quality")
    photos = sorted(inputs.PRODUCT_IMAGES.glob("*.jpg"))
    synthetic_dir = work / "synthetic"
    synthetic_dir.mkdir()
    sets = [
        (f"{len(photos)} sample product photos 320x320", photos),
        ("synthetic 640x480 stills (fractal, test card)",
         write_synthetic_stills(folder=synthetic_dir)),
    ]  # fmt: skip
    for index, (label, originals) in enumerate(sets):
        comparison = compare(originals=originals, scale=UPSCALE_FACTOR, workdir=work / f"up{index}")
        result.rows.append(media_rows.upscale_row(
            comparison, figure=f"upscale x{UPSCALE_FACTOR} PSNR/SSIM, {label}", command=command
        ))  # fmt: skip


def _demo(setup: Setup) -> DemoRun:
    _log("mediaq demo (12 news_anchor + 10 product_showcase)")
    return run_demo(data_dir=setup.data_dir / "demo-data", timeout_s=DEMO_TIMEOUT_S)


def _demo_rows(result: MediaResult, *, demo: DemoRun, command: str) -> None:
    from workers.media.probe import probe_media

    videos = sorted(demo.demo_dir.glob("*/*/video.mp4"))
    video_s = sum(probe_media(path).duration_s or 0.0 for path in videos)
    result.rows.append(Figure(
        figure="`mediaq demo`, full sample set (12 news_anchor + 10 product_showcase)",
        setup=media_rows.SETUP,
        value=(
            f"{demo.wall_s:.0f} s wall, process start to exit ({demo.succeeded} jobs succeeded, "
            f"{demo.failed} failed; {video_s:.0f} s of finished video, "
            f"{video_s / demo.wall_s:.2f} s of video per second)"
        ),
        target="",
        command=command,
        numbers={"wall_s": demo.wall_s, "jobs": demo.succeeded, "video_s": video_s},
    ))  # fmt: skip
    _log("auditing the demo outputs")
    result.rows.append(media_rows.violations_row(
        audit_tracks(demo_tracks(demo.demo_dir)),
        figure="subtitle rule violations, `mediaq demo` outputs (news and products)",
        command=command,
    ))  # fmt: skip
    loudness: dict[str, Loudness] = {
        path.parent.name: measure_loudness(path=path) for path in videos
    }
    result.rows.append(media_rows.loudness_row(
        loudness, **_loudness_targets(), figure="loudness of the `mediaq demo` MP4s",
        command=command,
    ))  # fmt: skip
    anchor_params = _template_params("news_anchor", "anchor")
    sync = {
        path.parent.name: measure_sync(video_path=path, anchor_params=anchor_params, fps=FPS)
        for path in videos
        if (path.parent / "anchor-video.mp4").exists()
    }
    if sync:
        result.rows.append(media_rows.sync_row(
            sync, figure="A/V sync of the `mediaq demo` news videos", command=command
        ))  # fmt: skip
