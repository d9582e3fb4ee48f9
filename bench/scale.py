"""Figure "scale": worker scaling, memory, re-submission and growth, on the real engines.

Each measurement starts a fresh embedded system (bench/media_system.py: the API in this
process, one `mediaq worker` process with N prefork children, SQLite, the file broker, a local
object folder), so no run sees another's stage cache:

- one versus two worker processes (prefork children) on the 12 sample articles (news_anchor):
  jobs per minute, from the POST to the last job's finished_at;
- the peak resident memory (VmHWM) of every worker process during that run;
- the same 12 articles submitted again, unchanged: every stage a cache hit, versus the first run;
- growth: 10, 100 and 1,000 voiceover jobs, time per job.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import media_inputs as inputs
from bench.media_system import MediaSystem
from bench.report import Figure
from bench.setups import Setup

TARGET_SCALING = 1.8
TARGET_MEMORY_MB = 500.0
TARGET_RESUBMIT = 50.0
TARGET_GROWTH = 0.20
GROWTH_SAMPLE_JOBS = 500
WARMUP_ARTICLES = ("bridge-zh-0420", "market-es-0422")  # both children load their engines


@dataclass(frozen=True)
class ScaleSizes:
    articles: int  # of the 12 samples
    news_script: Mapping[str, Any]
    growth: tuple[int, ...]
    timeout_s: float


FULL = ScaleSizes(
    articles=12, news_script={"target_duration_s": 10}, growth=(10, 100, 1000), timeout_s=900
)
QUICK = ScaleSizes(
    articles=4, news_script={"target_duration_s": 6}, growth=(5, 10, 20), timeout_s=600
)


@dataclass(frozen=True)
class BatchRun:
    jobs: int
    wall_s: float  # POST to the last job's finished_at (the median when samples > 1)
    samples: int = 1

    @property
    def per_minute(self) -> float:
        return 60.0 * self.jobs / self.wall_s


@dataclass(frozen=True)
class NewsRun:
    processes: int
    first: BatchRun
    again: BatchRun | None
    peak_rss_mb: list[float]  # one per worker process (prefork child)
    cpu_s: float  # worker processes and their ffmpeg children, during `first`

    @property
    def cores_busy(self) -> float:
        return self.cpu_s / self.first.wall_s


def _wait_batch(
    system: MediaSystem, job_ids: Sequence[str], *, submitted_at: float, timeout_s: float
) -> BatchRun:
    finished = system.wait_jobs(job_ids, submitted_at=submitted_at, timeout_s=timeout_s)
    return BatchRun(jobs=len(finished), wall_s=max(job.wall_s for job in finished))


def worker_children(root_pid: int) -> list[int]:
    """The prefork children of the `mediaq worker` process started under `root_pid`."""
    children: dict[int, list[int]] = {}
    commands: dict[int, str] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
            pid = int(status.parent.name)
            cmdline = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue  # the process ended while we read it
        children.setdefault(int(fields["PPid"]), []).append(pid)
        commands[pid] = cmdline
    workers = [p for p in _descendants(root_pid, children) if "producer.cli worker" in commands[p]]
    # the pool children are the workers whose parent is a worker
    return [pid for pid in workers if any(pid in children.get(w, []) for w in workers)]


def _descendants(pid: int, children: Mapping[int, list[int]]) -> Iterator[int]:
    for child in children.get(pid, []):
        yield child
        yield from _descendants(child, children)


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system time of the processes and their reaped children (ffmpeg), in seconds."""
    import os

    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """The process's resident-set high-water mark (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


@contextmanager
def _system(data_dir: Path, *, processes: int) -> Iterator[MediaSystem]:
    data_dir.mkdir(parents=True)
    with MediaSystem(data_dir=data_dir, concurrency=processes) as system:
        yield system


def news_run(setup: Setup, *, processes: int, sizes: ScaleSizes, again: bool) -> NewsRun:
    """The 12 sample articles on `processes` prefork children, after a warm-up job per child."""
    import os

    with _system(setup.data_dir / f"scale-news-{processes}", processes=processes) as system:
        warmup = [inputs.news_item(c, tag="warm") for c in WARMUP_ARTICLES[:processes]]
        ids, at = system.submit_items(
            template="news_anchor", items=warmup, params={"script": dict(sizes.news_script)}
        )
        _wait_batch(system, ids, submitted_at=at, timeout_s=sizes.timeout_s)
        params = {"script": dict(sizes.news_script)}
        items = inputs.all_news_items(tag=f"scale{processes}")[: sizes.articles]
        pool = worker_children(os.getpid())
        cpu_before = cpu_seconds(pool)
        ids, at = system.submit_items(template="news_anchor", items=items, params=params)
        first = _wait_batch(system, ids, submitted_at=at, timeout_s=sizes.timeout_s)
        cpu_s = cpu_seconds(pool) - cpu_before
        peaks = [peak_rss_mb(pid) for pid in pool]
        second = None
        if again:
            ids, at = system.submit_items(template="news_anchor", items=items, params=params)
            second = _wait_batch(system, ids, submitted_at=at, timeout_s=sizes.timeout_s)
    return NewsRun(processes=processes, first=first, again=second, peak_rss_mb=peaks, cpu_s=cpu_s)


def growth_runs(setup: Setup, *, sizes: ScaleSizes) -> list[BatchRun]:
    """Voiceover batches of each size on one system (2 children), distinct texts, no cache hits.

    A 10-job batch takes under half a second, where one scheduling hiccup is 20%: small sizes
    run several times (about GROWTH_SAMPLE_JOBS jobs, at most 5 batches) and report the median.
    """
    article = inputs.news_item(inputs.SHORT_ARTICLE, tag="grow")
    runs = []
    with _system(setup.data_dir / "scale-growth", processes=2) as system:
        batch_no = 0

        def one_batch(count: int) -> BatchRun:
            nonlocal batch_no
            batch_no += 1
            items = [
                {**article, "custom_id": f"grow-{batch_no}-{n}", "headline": f"Item {batch_no}.{n}"}
                for n in range(count)
            ]
            ids, at = system.submit_items(template="voiceover", items=items, params={})
            return _wait_batch(system, ids, submitted_at=at, timeout_s=sizes.timeout_s)

        one_batch(4)  # warm-up
        for count in sizes.growth:
            repeats = max(1, min(5, GROWTH_SAMPLE_JOBS // count))
            walls = sorted(one_batch(count).wall_s for _ in range(repeats))
            runs.append(BatchRun(jobs=count, wall_s=walls[len(walls) // 2], samples=repeats))
    return runs


def measure(setup: Setup, *, quick: bool, command: str) -> list[Figure]:
    sizes = QUICK if quick else FULL
    one = news_run(setup, processes=1, sizes=sizes, again=False)
    two = news_run(setup, processes=2, sizes=sizes, again=True)
    growth = growth_runs(setup, sizes=sizes)
    return [
        _scaling_figure(setup, one, two, command),
        _memory_figure(setup, one, two, command),
        _resubmit_figure(setup, two, command),
        _growth_figure(setup, growth, command),
    ]


def _scaling_figure(setup: Setup, one: NewsRun, two: NewsRun, command: str) -> Figure:
    ratio = two.first.per_minute / one.first.per_minute
    value = (
        f"**{ratio:.2f}x**: 1 process {one.first.per_minute:.1f} jobs/min "
        f"({one.first.wall_s:.1f} s for {one.first.jobs}, {one.cores_busy:.2f} cores busy), "
        f"2 processes {two.first.per_minute:.1f} jobs/min ({two.first.wall_s:.1f} s, "
        f"{two.cores_busy:.2f} cores busy) on {_cores()} cores"
    )
    return Figure(
        figure=f"one vs two worker processes, {one.first.jobs} sample articles (news_anchor)",
        setup=setup.label,
        value=value,
        target=f"≥ {TARGET_SCALING}x throughput",
        command=command,
        numbers={
            "ratio": ratio,
            "one_cores_busy": one.cores_busy,
            "two_cores_busy": two.cores_busy,
            "one_per_min": one.first.per_minute,
            "two_per_min": two.first.per_minute,
        },
        is_met=ratio >= TARGET_SCALING,
    )


def _cores() -> int:
    import os

    return os.cpu_count() or 1


def _memory_figure(setup: Setup, one: NewsRun, two: NewsRun, command: str) -> Figure:
    peaks = one.peak_rss_mb + two.peak_rss_mb
    if not peaks:
        raise RuntimeError("no worker process found to read its memory")
    worst = max(peaks)
    one_mb = ", ".join(f"{p:.0f}" for p in one.peak_rss_mb)
    two_mb = ", ".join(f"{p:.0f}" for p in two.peak_rss_mb)
    value = f"max {worst:.0f} MB (VmHWM; 1-process run: {one_mb} MB; 2-process run: {two_mb} MB)"
    return Figure(
        figure="peak memory per CPU worker process during news_anchor",
        setup=setup.label,
        value=value,
        target=f"< {TARGET_MEMORY_MB:.0f} MB",
        command=command,
        numbers={"max_mb": worst},
        is_met=worst < TARGET_MEMORY_MB,
    )


def _resubmit_figure(setup: Setup, two: NewsRun, command: str) -> Figure:
    if two.again is None:
        raise RuntimeError("the 2-process run did not resubmit")
    ratio = two.first.wall_s / two.again.wall_s
    value = (
        f"**{ratio:.0f}x** faster: {two.again.wall_s:.2f} s for the unchanged {two.again.jobs} "
        f"(every stage a cache hit) vs {two.first.wall_s:.1f} s the first time"
    )
    return Figure(
        figure=f"re-submitting the unchanged {two.first.jobs} sample articles vs the first run",
        setup=setup.label,
        value=value,
        target=f"≥ {TARGET_RESUBMIT:.0f}x faster",
        command=command,
        numbers={"ratio": ratio, "again_s": two.again.wall_s},
        is_met=ratio >= TARGET_RESUBMIT,
    )


def _growth_figure(setup: Setup, runs: Sequence[BatchRun], command: str) -> Figure:
    per_job = [run.wall_s / run.jobs * 1000 for run in runs]
    spread = max(per_job) / min(per_job) - 1
    parts = ", ".join(
        f"{run.jobs:,} jobs {ms:.0f} ms/job ({run.wall_s:.1f} s"
        + (f", median of {run.samples} batches)" if run.samples > 1 else ")")
        for run, ms in zip(runs, per_job, strict=True)
    )
    return Figure(
        figure="growth: time per voiceover job at "
        + " / ".join(f"{r.jobs:,}" for r in runs)
        + " jobs",
        setup=setup.label,
        value=f"{parts}; spread **{spread * 100:.0f}%**",
        target=f"flat (within {TARGET_GROWTH * 100:.0f}%)",
        command=command,
        numbers={
            "spread": spread,
            **{f"ms_per_job_{r.jobs}": ms for r, ms in zip(runs, per_job, strict=True)},
        },
        is_met=spread <= TARGET_GROWTH,
    )
