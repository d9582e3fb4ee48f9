"""Figure 1: accepting a large JSONL batch over HTTP, from request to 202 (median of N runs).

Items repeat the 12 sample news articles with unique custom_ids. No worker runs: the stage
messages pile up in the broker; the bench waits until all are published (the API publishes them
after the response, in a background task), reports that time too, then purges them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.processes import api_headers
from bench.report import Figure, median
from bench.setups import Setup

SAMPLE_NEWS = Path(__file__).resolve().parents[1] / "examples" / "news" / "batch.jsonl"
TARGET_ITEMS = 10_000
TARGET_S = 2.0
REQUEST_TIMEOUT_S = 300.0
PUBLISH_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class AcceptedBatch:
    """The last accepted batch, which the status-read figure polls."""

    batch_id: str
    job_ids: list[str]


def sample_items() -> list[dict[str, Any]]:
    lines = SAMPLE_NEWS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def make_jsonl(*, item_count: int, tag: str) -> bytes:
    """`item_count` items cycling through the samples, each with a unique custom_id."""
    samples = sample_items()
    lines = []
    for index in range(item_count):
        item = dict(samples[index % len(samples)])
        item["custom_id"] = f"{item['custom_id']}-{tag}-{index:06d}"
        item["headline"] = f"{item['headline']} ({index // len(samples) + 1})"
        lines.append(json.dumps(item, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8")


def submit(http: httpx.Client, body: bytes) -> tuple[float, dict[str, Any]]:
    """POST the JSONL body; returns (seconds from request to 202, response body)."""
    started = time.perf_counter()
    response = http.post(
        "/v1/batches",
        params={"template": "voiceover"},
        content=body,
        headers={"Content-Type": "application/x-ndjson"},
    )
    elapsed_s = time.perf_counter() - started
    if response.status_code != 202:
        raise RuntimeError(f"submit answered {response.status_code}: {response.text[:500]}")
    return elapsed_s, response.json()


def wait_published(setup: Setup, *, expected: int, timeout_s: float = PUBLISH_TIMEOUT_S) -> float:
    """Seconds until `expected` messages wait in the broker (bounded by `timeout_s`)."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    while setup.count_messages() < expected:
        if time.monotonic() > deadline:
            published = setup.count_messages()
            raise RuntimeError(f"{published} of {expected} messages published in {timeout_s} s")
        time.sleep(0.05)
    return time.perf_counter() - started


def populate(setup: Setup, url: str, *, item_count: int, tag: str) -> AcceptedBatch:
    """Submit one batch (not timed), wait for its messages, purge them."""
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S, headers=api_headers(setup)) as http:
        _, accepted = submit(http, make_jsonl(item_count=item_count, tag=tag))
    wait_published(setup, expected=item_count)
    setup.purge_messages()
    return AcceptedBatch(accepted["id"], [job["id"] for job in accepted["jobs"]])


def measure(
    setup: Setup, url: str, *, item_count: int, runs: int, command: str
) -> tuple[list[Figure], AcceptedBatch]:
    """Median time to 202 over `runs` fresh batches, plus the publish time after it."""
    setup.purge_messages()
    populate(setup, url, item_count=12, tag="warmup")  # first-request imports, connections
    accept_s: list[float] = []
    publish_s: list[float] = []
    last: dict[str, Any] = {}
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S, headers=api_headers(setup)) as http:
        for run in range(runs):
            body = make_jsonl(item_count=item_count, tag=f"r{run}")
            elapsed_s, last = submit(http, body)
            accept_s.append(elapsed_s)
            publish_s.append(wait_published(setup, expected=item_count))
            setup.purge_messages()
    body_mib = len(make_jsonl(item_count=item_count, tag="r0")) / 2**20
    value_s = median(accept_s)
    is_target_size = item_count == TARGET_ITEMS
    figures = [
        Figure(
            figure=f"accept {item_count:,} items (JSONL {body_mib:.1f} MiB, POST → 202)",
            setup=setup.label,
            value=(
                f"{value_s:.2f} s median of {runs} "
                f"(min {min(accept_s):.2f}, max {max(accept_s):.2f})"
            ),
            target=f"< {TARGET_S:.0f} s" if is_target_size else f"(< {TARGET_S:.0f} s at 10,000)",
            command=command,
            numbers={"median_s": value_s, "min_s": min(accept_s), "max_s": max(accept_s)},
            is_met=(value_s < TARGET_S) if is_target_size else None,
        ),
        Figure(
            figure=f"publish {item_count:,} stage messages after the 202",
            setup=setup.label,
            value=f"{median(publish_s):.2f} s median of {runs}",
            target="",
            command=command,
            numbers={"median_s": median(publish_s)},
        ),
    ]
    return figures, AcceptedBatch(last["id"], [job["id"] for job in last["jobs"]])
