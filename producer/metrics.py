"""Prometheus metrics computed at scrape time from the database, the broker and the GPUs.

Every gauge is recomputed on each scrape from the source of truth (one grouped query per table),
so any API replica reports the same cluster-wide numbers: in PromQL aggregate them with
`max without (instance, pod)`, never `sum`.

Stage durations are a real Histogram: each scrape observes the stage runs that finished since the
previous scrape (by `finished_at`, with a lag of `FINISH_LAG_S` so a transaction that committed a
little after its timestamp, or a worker clock slightly ahead, is not missed). Its counters start at
zero when the process starts, like any Prometheus counter, and every replica observes every run:
use `max without (instance, pod) (rate(mediaq_stage_duration_seconds_bucket[5m]))`.
"""

from __future__ import annotations

import csv
import io
import logging
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.exc import SQLAlchemyError

from producer.db import Database
from producer.ids import as_utc, utcnow
from producer.schedule_metrics import schedule_families
from producer.webhooks.metrics import webhook_families
from schemas.catalog import STAGE_KINDS
from schemas.states import JobState, StageState
from schemas.tables import Job, StageRun

log = logging.getLogger(__name__)

# Media stages run from a tenth of a second (a cache hit, a script) to half an hour (a long
# anchor video on CPU, a TensorRT build): roughly x2.5 steps over that range.
STAGE_DURATION_BUCKETS_S = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800)
FINISH_LAG_S = 30.0
NVIDIA_SMI_TIMEOUT_S = 5.0
REDIS_TIMEOUT_S = 2.0
# kombu's Redis transport defaults, used when the Celery config does not set them
KOMBU_REDIS_SEP = "\x06\x16"
KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)
_GPU_FIELDS = "index,uuid,name,memory.used,memory.total,utilization.gpu"
_MIB = 1024 * 1024


@dataclass(frozen=True)
class GpuSample:
    """One GPU as nvidia-smi reports it; None where it says [N/A] (MIG, some vGPUs)."""

    index: str
    uuid: str
    name: str
    memory_used_bytes: float | None
    memory_total_bytes: float | None
    utilization_ratio: float | None


def redis_list_names(queue: str, *, sep: str, priority_steps: Iterable[int]) -> list[str]:
    """The Redis lists kombu keeps for one queue: `cpu` for step 0, `cpu<sep><step>` for others.

    Mirrors kombu.transport.redis.Channel._q_for_pri, so a queue length counts every priority.
    """
    return [f"{queue}{sep}{step}" if step else queue for step in sorted(set(priority_steps))]


def read_redis_queue_lengths(
    *, url: str, queues: Sequence[str], transport_options: Mapping[str, Any]
) -> dict[str, int]:
    """Messages waiting in each queue on a Redis broker (all priority sub-lists together).

    Messages a worker has taken but not acknowledged (running or prefetched) are not in the lists.

    Raises:
        redis.RedisError, OSError: the broker cannot be reached.
    """
    import redis

    sep = transport_options.get("sep", KOMBU_REDIS_SEP)
    steps = transport_options.get("priority_steps", KOMBU_PRIORITY_STEPS)
    names = {queue: redis_list_names(queue, sep=sep, priority_steps=steps) for queue in queues}
    client = redis.Redis.from_url(
        url.split(";", 1)[0],  # Celery accepts "url1;url2" for failover: ask the first
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
    )
    try:
        pipeline = client.pipeline(transaction=False)
        for queue in queues:
            for name in names[queue]:
                pipeline.llen(name)
        lengths = iter(pipeline.execute())
        return {queue: sum(next(lengths) for _ in names[queue]) for queue in queues}
    finally:
        client.close()


def parse_nvidia_smi_csv(text: str) -> list[GpuSample]:
    """Parse `nvidia-smi --query-gpu=<_GPU_FIELDS> --format=csv,noheader,nounits` output."""
    samples = []
    for row in csv.reader(io.StringIO(text), skipinitialspace=True):
        if len(row) != 6:
            continue
        index, uuid, name, used_mib, total_mib, utilization_pct = (cell.strip() for cell in row)
        used, total, utilization = (
            _number(used_mib),
            _number(total_mib),
            _number(utilization_pct),
        )
        samples.append(
            GpuSample(
                index=index,
                uuid=uuid,
                name=name,
                memory_used_bytes=None if used is None else used * _MIB,
                memory_total_bytes=None if total is None else total * _MIB,
                utilization_ratio=None if utilization is None else utilization / 100,
            )
        )
    return samples


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:  # "[N/A]", "[Not Supported]"
        return None


def query_gpus() -> list[GpuSample]:
    """The GPUs of this host from nvidia-smi; empty when the binary is absent or fails."""
    binary = shutil.which("nvidia-smi")
    if binary is None:
        return []
    try:
        result = subprocess.run(
            [binary, f"--query-gpu={_GPU_FIELDS}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_S,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as error:
        log.warning("nvidia-smi failed, GPU metrics omitted: %s", error)
        return []
    return parse_nvidia_smi_csv(result.stdout)


class MediaqCollector(Collector):
    """Builds every mediaq metric family when the registry is collected (once per scrape).

    Args:
        db: the database to count jobs and stage runs in.
        broker_url: the Celery broker; queue lengths are read only from `redis://`/`rediss://`.
        queues: the Celery queues to report (producer.broker.QUEUES).
        transport_options: Celery's broker_transport_options (kombu's `sep`, `priority_steps`).
        clock: the current UTC time; tests move it forward.
        gpu_probe: returns this host's GPUs.
    """

    def __init__(
        self,
        *,
        db: Database,
        broker_url: str,
        queues: Sequence[str],
        transport_options: Mapping[str, Any],
        clock: Callable[[], datetime] = utcnow,
        gpu_probe: Callable[[], list[GpuSample]] = query_gpus,
    ) -> None:
        self.db, self.broker_url, self.queues = db, broker_url, tuple(queues)
        self.transport_options = dict(transport_options)
        self.clock, self.gpu_probe = clock, gpu_probe
        self._lock = threading.Lock()
        self._durations = Histogram(
            "mediaq_stage_duration_seconds",
            "Run time of finished stage runs (last attempt, cache hits excluded), observed at "
            "scrape time.",
            ["kind", "engine", "state"],
            buckets=STAGE_DURATION_BUCKETS_S,
            registry=None,
        )
        self._watermark = self.clock() - timedelta(seconds=FINISH_LAG_S)

    def collect(self) -> Iterable[Metric]:
        with self._lock:  # one scrape at a time: the duration watermark moves once per scrape
            families = self._database_families()
            families += self._broker_families()
            families += self._gpu_families()
        return families

    def _database_families(self) -> list[Metric]:
        up = GaugeMetricFamily("mediaq_database_up", "1 when the last scrape read the database.")
        until = max(self._watermark, self.clock() - timedelta(seconds=FINISH_LAG_S))
        try:
            with self.db.read_session() as session:
                job_rows = session.execute(
                    select(Job.state, func.count()).group_by(Job.state)
                ).all()
                stage_rows = session.execute(_stage_run_counts()).all()
                finished = session.execute(_finished_runs(since=self._watermark, until=until)).all()
                webhooks = webhook_families(session, now=self.clock())
                schedules = schedule_families(session, now=self.clock())
        except SQLAlchemyError as error:
            log.warning("metrics: database unreachable: %s", error)
            up.add_metric([], 0)
            return [up]
        self._observe_durations(finished)
        self._watermark = until
        up.add_metric([], 1)
        return [
            up,
            *_job_families(job_rows),
            *_stage_families(stage_rows, self.queues),
            *self._durations.collect(),
            *webhooks,
            *schedules,
        ]

    def _observe_durations(self, rows: Sequence[Any]) -> None:
        for kind, engine, state, started_at, finished_at in rows:
            started, finished = as_utc(started_at), as_utc(finished_at)
            if started is None or finished is None:  # the query excludes them; for the types
                continue
            duration_s = (finished - started).total_seconds()
            self._durations.labels(kind, engine, state).observe(max(0.0, duration_s))

    def _broker_families(self) -> list[Metric]:
        if urlsplit(self.broker_url).scheme not in ("redis", "rediss"):
            return []  # the embedded broker has no lists to count; the database depth stands
        up = GaugeMetricFamily("mediaq_broker_up", "1 when the last scrape read the broker.")
        lengths = GaugeMetricFamily(
            "mediaq_broker_queue_length",
            "Messages waiting in the broker per queue, all priority sub-lists together.",
            labels=["queue"],
        )
        try:
            counts = read_redis_queue_lengths(
                url=self.broker_url, queues=self.queues, transport_options=self.transport_options
            )
        except Exception as error:  # redis.RedisError, OSError: report, don't fail the scrape
            log.warning("metrics: broker unreachable: %s", error)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        for queue, count in counts.items():
            lengths.add_metric([queue], count)
        return [up, lengths]

    def _gpu_families(self) -> list[Metric]:
        samples = self.gpu_probe()
        if not samples:
            return []
        labels = ["gpu", "uuid", "name"]
        used = GaugeMetricFamily(
            "mediaq_gpu_memory_used_bytes", "GPU memory in use.", labels=labels
        )
        total = GaugeMetricFamily("mediaq_gpu_memory_total_bytes", "GPU memory.", labels=labels)
        utilization = GaugeMetricFamily(
            "mediaq_gpu_utilization_ratio",
            "Fraction of the last sample period the GPU was busy (0-1).",
            labels=labels,
        )
        for gpu in samples:
            key = [gpu.index, gpu.uuid, gpu.name]
            for family, value in (
                (used, gpu.memory_used_bytes),
                (total, gpu.memory_total_bytes),
                (utilization, gpu.utilization_ratio),
            ):
                if value is not None:
                    family.add_metric(key, value)
        return [used, total, utilization]


def _finished_runs(*, since: datetime, until: datetime) -> Any:
    """Runs that finished in (since, until] after real work (not a cache hit)."""
    return select(
        StageRun.kind, StageRun.engine, StageRun.state, StageRun.started_at, StageRun.finished_at
    ).where(
        StageRun.finished_at > since,
        StageRun.finished_at <= until,
        StageRun.state.in_([StageState.SUCCEEDED, StageState.FAILED]),
        StageRun.is_cache_hit.is_(False),
        StageRun.started_at.is_not(None),
    )


def _stage_run_counts() -> Any:
    """One pass over stage_run: counts and retries per state, kind, queue and cache hit."""
    retries = func.sum(case((StageRun.attempts > 1, StageRun.attempts - 1), else_=0))
    group = (StageRun.state, StageRun.kind, StageRun.queue, StageRun.is_cache_hit)
    return select(*group, func.count(), retries).group_by(*group)


def _job_families(rows: Sequence[Any]) -> list[Metric]:
    counts = {state.value: 0 for state in JobState}
    for state, count in rows:
        counts[state] = count
    jobs = GaugeMetricFamily("mediaq_jobs", "Jobs per state.", labels=["state"])
    for state, count in counts.items():
        jobs.add_metric([state], count)
    return [jobs]


def _stage_families(rows: Sequence[Any], queues: Sequence[str]) -> list[Metric]:
    by_state_kind = {(state.value, kind): 0 for state in StageState for kind in STAGE_KINDS}
    queued = dict.fromkeys(queues, 0)
    retries_by_kind = dict.fromkeys(STAGE_KINDS, 0)
    succeeded = hits = 0
    for state, kind, queue, is_cache_hit, count, retries in rows:
        by_state_kind[(state, kind)] = by_state_kind.get((state, kind), 0) + count
        retries_by_kind[kind] = retries_by_kind.get(kind, 0) + int(retries or 0)
        if state == StageState.QUEUED:
            queued[queue] = queued.get(queue, 0) + count
        if state == StageState.SUCCEEDED:
            succeeded += count
            hits += count if is_cache_hit else 0
    runs = GaugeMetricFamily(
        "mediaq_stage_runs", "Stage runs per state and kind.", labels=["state", "kind"]
    )
    for (state, kind), count in sorted(by_state_kind.items()):
        runs.add_metric([state, kind], count)
    depth = GaugeMetricFamily(
        "mediaq_queue_depth",
        "Stage runs in state queued per queue, from the database (sent or about to be resent).",
        labels=["queue"],
    )
    for queue, count in sorted(queued.items()):
        depth.add_metric([queue], count)
    retried = GaugeMetricFamily(
        "mediaq_stage_retries", "Retries started: sum of attempts - 1 per kind.", labels=["kind"]
    )
    for kind, count in sorted(retries_by_kind.items()):
        retried.add_metric([kind], count)
    cache_hits = GaugeMetricFamily(
        "mediaq_cache_hits", "Succeeded stage runs that reused a cached result."
    )
    cache_hits.add_metric([], hits)
    ratio = GaugeMetricFamily(
        "mediaq_cache_hit_ratio", "Cache hits over succeeded stage runs (0 when none succeeded)."
    )
    ratio.add_metric([], hits / succeeded if succeeded else 0.0)
    return [runs, depth, retried, cache_hits, ratio]


class MetricsExporter:
    """A registry with the mediaq collector and this process's CPU and memory, for /metrics."""

    def __init__(self, collector: MediaqCollector) -> None:
        self.collector = collector
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        ProcessCollector(registry=self.registry)

    def render(self, *, accept: str | None) -> tuple[bytes, str]:
        """The exposition (OpenMetrics when the scraper asks for it) and its content type."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
