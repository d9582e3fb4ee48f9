"""Figure 2: status reads under concurrent pollers (GET /v1/batches/{id} and /v1/jobs/{id}).

`pollers` asyncio clients share one httpx connection pool (one connection each) and read as fast
as the server answers, until `requests_total` requests or `time_limit_s` seconds, whichever comes
first. Latency is measured at the client, so it includes the client's own overhead.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import httpx

from bench.accept import AcceptedBatch
from bench.report import Figure, percentile
from bench.setups import Setup

TARGET_P50_MS = 10.0
TARGET_P99_MS = 50.0
JOB_SAMPLE = 1000


@dataclass
class PollResult:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0
    first_error: str = ""


async def _poll(
    *,
    url: str,
    paths: list[str],
    pollers: int,
    requests_total: int,
    time_limit_s: float,
    interval_s: float,
) -> PollResult:
    result = PollResult()
    limits = httpx.Limits(max_connections=pollers, max_keepalive_connections=pollers)
    issued = 0

    async def one(client: httpx.AsyncClient, path: str) -> None:
        started = time.perf_counter()
        response = await client.get(path)
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            result.errors += 1
            result.first_error = result.first_error or f"{response.status_code} {path}"

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

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:
        # open every connection first, so the measurement starts warm
        await asyncio.gather(*(client.get(paths[i % len(paths)]) for i in range(pollers)))
        started = time.perf_counter()
        deadline = time.monotonic() + time_limit_s
        offsets = [interval_s * i / pollers for i in range(pollers)]  # spread paced pollers
        await asyncio.gather(*(poller(client, deadline, offset) for offset in offsets))
        result.elapsed_s = time.perf_counter() - started
    return result


def _figure(
    *, name: str, setup: Setup, result: PollResult, pollers: int, command: str
) -> Figure:
    if not result.latencies_ms:
        raise RuntimeError(f"{name}: no request completed")
    if result.errors:
        raise RuntimeError(f"{name}: {result.errors} requests failed, first: {result.first_error}")
    count = len(result.latencies_ms)
    p50 = percentile(result.latencies_ms, 0.50)
    p99 = percentile(result.latencies_ms, 0.99)
    rate = count / result.elapsed_s
    return Figure(
        figure=f"{name}, {pollers} pollers",
        setup=setup.label,
        value=f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, {rate:.0f} req/s ({count:,} requests)",
        target=f"p50 < {TARGET_P50_MS:.0f} ms, p99 < {TARGET_P99_MS:.0f} ms",
        command=command,
        numbers={"p50_ms": p50, "p99_ms": p99, "requests_per_s": rate, "requests": count},
        is_met=p50 < TARGET_P50_MS and p99 < TARGET_P99_MS,
    )


def measure(
    setup: Setup,
    url: str,
    *,
    batch: AcceptedBatch,
    pollers: int,
    requests_total: int,
    time_limit_s: float,
    command: str,
) -> list[Figure]:
    """p50/p99 latency and throughput of batch reads, then of job reads."""
    jobs = random.Random(7).sample(batch.job_ids, min(JOB_SAMPLE, len(batch.job_ids)))
    reads = [
        (
            f"GET /v1/batches/{{id}} ({len(batch.job_ids):,} jobs, page of 100)",
            [f"/v1/batches/{batch.batch_id}"],
        ),
        ("GET /v1/jobs/{id} (2 stages)", [f"/v1/jobs/{job_id}" for job_id in jobs]),
    ]
    figures = []
    for name, paths in reads:
        result = asyncio.run(
            _poll(
                url=url,
                paths=paths,
                pollers=pollers,
                requests_total=requests_total,
                time_limit_s=time_limit_s,
            )
        )
        figures.append(
            _figure(name=name, setup=setup, result=result, pollers=pollers, command=command)
        )
    return figures
