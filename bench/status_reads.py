"""Figure 2: status reads under concurrent pollers (GET /v1/batches/{id} and /v1/jobs/{id}).

`pollers` asyncio clients share one httpx connection pool (one connection each). Closed loop: each
reads again as soon as it has its answer, until `requests_total` requests or `time_limit_s`
seconds, whichever comes first (this measures throughput; at saturation p50 is about pollers /
throughput). Paced: each reads once a second, like a dashboard, for `paced_s` seconds. Latency is
measured at the client, so it includes the client's own overhead.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import httpx

from bench.accept import AcceptedBatch
from bench.processes import api_headers
from bench.report import Figure, percentile
from bench.setups import Setup
from schemas.pipelines import builtin_templates

TARGET_P50_MS = 10.0
TARGET_P99_MS = 50.0
JOB_SAMPLE = 1000
PACED_INTERVAL_S = 1.0


@dataclass
class PollResult:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0
    client_cpu_s: float = 0.0
    first_error: str = ""


async def _poll(
    *,
    url: str,
    paths: list[str],
    pollers: int,
    requests_total: int,
    time_limit_s: float,
    interval_s: float,
    headers: dict[str, str],
) -> PollResult:
    result = PollResult()
    limits = httpx.Limits(max_connections=pollers, max_keepalive_connections=pollers)
    issued = 0

    async def one(client: httpx.AsyncClient, path: str) -> None:
        started = time.perf_counter()
        try:
            response = await client.get(path)
        except httpx.TransportError as error:  # counted and reported, like a bad status
            result.errors += 1
            result.first_error = result.first_error or f"{type(error).__name__}: {error}"
            return
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            result.errors += 1
            result.first_error = result.first_error or f"HTTP {response.status_code}"

    async def poller(client: httpx.AsyncClient, deadline: float, offset_s: float) -> None:
        nonlocal issued
        next_at = time.monotonic() + offset_s
        while issued < requests_total and time.monotonic() < deadline:
            if interval_s:
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                next_at += interval_s
            path = paths[issued % len(paths)]
            issued += 1
            await one(client, path)

    async with httpx.AsyncClient(
        base_url=url, limits=limits, timeout=60.0, headers=headers
    ) as client:
        # open every connection first, so the measurement starts warm
        warmup = (client.get(paths[i % len(paths)]) for i in range(pollers))
        await asyncio.gather(*warmup, return_exceptions=True)
        started, cpu_started = time.perf_counter(), time.process_time()
        deadline = time.monotonic() + time_limit_s
        offsets = [interval_s * i / pollers for i in range(pollers)]  # spread paced pollers
        await asyncio.gather(*(poller(client, deadline, offset) for offset in offsets))
        result.elapsed_s = time.perf_counter() - started
        result.client_cpu_s = time.process_time() - cpu_started
    return result


def _figure(*, name: str, setup: Setup, result: PollResult, command: str) -> Figure:
    if not result.latencies_ms:
        raise RuntimeError(f"{name}: no request succeeded; first error: {result.first_error}")
    count = len(result.latencies_ms)
    p50 = percentile(result.latencies_ms, 0.50)
    p99 = percentile(result.latencies_ms, 0.99)
    rate = count / result.elapsed_s
    client_cores = result.client_cpu_s / result.elapsed_s
    value = (
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, {rate:.0f} req/s "
        f"({count:,} requests; client used {client_cores:.1f} cores)"
    )
    if result.errors:
        value += f"; **{result.errors} failed** (first: {result.first_error[:80]})"
    return Figure(
        figure=name,
        setup=setup.label,
        value=value,
        target=f"p50 < {TARGET_P50_MS:.0f} ms, p99 < {TARGET_P99_MS:.0f} ms",
        command=command,
        numbers={"p50_ms": p50, "p99_ms": p99, "requests_per_s": rate, "requests": count},
        is_met=p50 < TARGET_P50_MS and p99 < TARGET_P99_MS and not result.errors,
    )


def measure(
    setup: Setup,
    url: str,
    *,
    batch: AcceptedBatch,
    pollers: int,
    requests_total: int,
    time_limit_s: float,
    paced_s: float,
    command: str,
) -> list[Figure]:
    """Batch reads, then job reads: closed loop (as fast as answered), then paced (1/s each).

    Args:
        requests_total: requests per closed-loop row (bounded by `time_limit_s` too).
        paced_s: duration of each paced row, every poller reading once per PACED_INTERVAL_S.
    """
    jobs = random.Random(7).sample(batch.job_ids, min(JOB_SAMPLE, len(batch.job_ids)))
    reads = [
        (
            f"GET /v1/batches/{{id}} ({len(batch.job_ids):,}-job batch, page of 100)",
            [f"/v1/batches/{batch.batch_id}"],
        ),
        (
            f"GET /v1/jobs/{{id}} ({len(builtin_templates()['voiceover'].stages)} stages)",
            [f"/v1/jobs/{job_id}" for job_id in jobs],
        ),
    ]
    paced_total = pollers * max(1, int(paced_s / PACED_INTERVAL_S))
    modes = [
        (f"{pollers} pollers, closed loop", requests_total, time_limit_s, 0.0),
        (
            f"{pollers} pollers, each 1 read/s",
            paced_total,
            paced_s + PACED_INTERVAL_S,
            PACED_INTERVAL_S,
        ),
    ]
    figures = []
    for name, paths in reads:
        for mode, total, limit_s, interval_s in modes:
            result = asyncio.run(
                _poll(
                    url=url,
                    paths=paths,
                    pollers=pollers,
                    requests_total=total,
                    time_limit_s=limit_s,
                    interval_s=interval_s,
                    headers=api_headers(setup),
                )
            )
            figures.append(
                _figure(name=f"{name}, {mode}", setup=setup, result=result, command=command)
            )
    return figures
