"""Entry point: `python -m bench.run [--quick] [--only FIGURE] [--embedded-only] [--no-write]`.

FIGURE is one of accept, status, queue, media, scale. Runs each figure on the embedded default
and on PostgreSQL + Redis (skipped with a note when they do not answer; the media and scale
figures run on the embedded default only), prints the table and rewrites BENCHMARKS.md (with
`--only`, the other figures' rows and notes stay as they were). Every server and worker it
starts is stopped before it returns, also on errors. Exit status: 1 when a figure could not be
measured, or (full run only) when a target was missed; `--quick` never fails on figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from bench import accept, media, queue_overhead, scale, status_reads
from bench.processes import api_server
from bench.report import Figure, Skipped, write_markdown, write_stdout
from bench.setups import (
    DEFAULT_POSTGRES_URL,
    DEFAULT_REDIS_URL,
    EMBEDDED,
    PRODUCTION,
    SETUP_LABELS,
    Setup,
    check_production,
    embedded_setup,
    production_setup,
)

FIGURES = ("accept", "status", "queue", "media", "scale")
SERVICE_FIGURES = frozenset({"accept", "status", "queue"})  # measured on both setups
NOTES = "Notes"
MEDIA_NOTES = "Media notes"
Row = Figure | Skipped


@dataclass(frozen=True)
class Sizes:
    items: int
    accept_runs: int
    pollers: int
    poll_requests: int
    poll_limit_s: float
    paced_s: float
    noop_jobs: int
    worker_concurrency: int = 2


FULL = Sizes(
    items=10_000,
    accept_runs=5,
    pollers=50,
    poll_requests=1_500,
    poll_limit_s=30.0,
    paced_s=10.0,
    noop_jobs=100,
)
QUICK = Sizes(
    items=500,
    accept_runs=2,
    pollers=10,
    poll_requests=200,
    poll_limit_s=5.0,
    paced_s=2.0,
    noop_jobs=10,
)


def _command(*, quick: bool, only: str | None, only_embedded: bool) -> str:
    parts = ["python -m bench.run"]
    if quick:
        parts.append("--quick")
    if only:
        parts.append(f"--only {only}")
    if only_embedded:
        parts.append("--embedded-only")
    return " ".join(parts)


def _log(text: str) -> None:
    sys.stderr.write(f"[bench] {text}\n")
    sys.stderr.flush()


def _server_figures(
    setup: Setup, *, selected: set[str], sizes: Sizes, quick: bool
) -> Iterator[Row]:
    """Accept and status reads share one API server and its populated database.

    Rows are yielded as they are measured, so an error in a later figure keeps the earlier ones.
    """
    with api_server(setup) as url:
        batch = None
        if "accept" in selected:
            _log(f"{setup.name}: accept {sizes.items} items x {sizes.accept_runs}")
            command = _command(quick=quick, only="accept", only_embedded=False)
            figures, batch = accept.measure(
                setup, url, item_count=sizes.items, runs=sizes.accept_runs, command=command
            )
            yield from figures
        if "status" in selected:
            if batch is None:
                batch = accept.populate(setup, url, item_count=sizes.items, tag="status")
            _log(f"{setup.name}: status reads, {sizes.pollers} pollers")
            yield from (
                status_reads.measure(
                    setup,
                    url,
                    batch=batch,
                    pollers=sizes.pollers,
                    requests_total=sizes.poll_requests,
                    time_limit_s=sizes.poll_limit_s,
                    paced_s=sizes.paced_s,
                    command=_command(quick=quick, only="status", only_embedded=False),
                )
            )


def _queue_figures(setup: Setup, *, sizes: Sizes, quick: bool) -> list[Row]:
    _log(f"{setup.name}: queue overhead, {sizes.noop_jobs} noop jobs")
    with api_server(setup) as url:
        return list(
            queue_overhead.measure(
                setup,
                url,
                jobs=sizes.noop_jobs,
                concurrency=sizes.worker_concurrency,
                command=_command(quick=quick, only="queue", only_embedded=False),
            )
        )


def _media_figures(setup: Setup, *, quick: bool, notes: list[str]) -> list[Row]:
    _log(f"{setup.name}: media figures{' (quick sizes)' if quick else ''}")
    result = media.measure(
        setup, quick=quick, command=_command(quick=quick, only="media", only_embedded=False)
    )
    notes.extend(result.notes)
    return list(result.rows)


def _scale_figures(setup: Setup, *, quick: bool) -> list[Row]:
    _log(f"{setup.name}: scale figures{' (quick sizes)' if quick else ''}")
    return list(
        scale.measure(
            setup, quick=quick, command=_command(quick=quick, only="scale", only_embedded=False)
        )
    )


def _guarded(
    make_setup: Callable[[], AbstractContextManager[Setup]],
    measure: Callable[[Setup], Iterable[Row]],
    *,
    setup_name: str,
    figure: str,
    command: str,
) -> Iterator[Row]:
    """The rows of one measurement; an error becomes a row that says so, not a crash."""
    try:
        with make_setup() as setup:
            yield from measure(setup)
    except Exception as error:  # one broken figure must not hide the others
        _log(traceback.format_exc())
        reason = f"error: {type(error).__name__}: {str(error).splitlines()[0][:200]}"
        yield Skipped(figure, SETUP_LABELS[setup_name], reason, command, is_error=True)


def run(
    *,
    quick: bool = False,
    only: str | None = None,
    only_embedded: bool = False,
    write: bool = True,
    postgres_url: str = DEFAULT_POSTGRES_URL,
    redis_url: str = DEFAULT_REDIS_URL,
) -> list[Row]:
    """Measure the selected figures on the selected setups; print, and write BENCHMARKS.md.

    Args:
        quick: small sizes (about a minute), same table.
        only: one of FIGURES, or None for all.
        only_embedded: skip the PostgreSQL + Redis rows.
        write: rewrite BENCHMARKS.md.

    Returns:
        The rows: a Figure per measurement, a Skipped per setup or figure that could not run.
    """
    if only is not None and only not in FIGURES:
        raise ValueError(f"unknown figure {only!r} (known: {', '.join(FIGURES)})")
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    sizes = QUICK if quick else FULL
    selected = {only} if only else set(FIGURES)
    command = _command(quick=quick, only=only, only_embedded=only_embedded)
    rows: list[Row] = []
    notes: list[str] = []
    media_notes: list[str] = []
    setups: list[tuple[str, Callable[[], AbstractContextManager[Setup]]]] = [
        (EMBEDDED, embedded_setup)
    ]
    if not only_embedded and selected & SERVICE_FIGURES:
        problem = check_production(postgres_url=postgres_url, redis_url=redis_url)
        if problem is None:
            setups.append(
                (
                    PRODUCTION,
                    lambda: production_setup(postgres_url=postgres_url, redis_url=redis_url),
                )
            )
        else:
            notes.append(f"PostgreSQL + Redis rows skipped: {problem}.")
            rows.extend(
                Skipped(name, SETUP_LABELS[PRODUCTION], problem, command)
                for name in FIGURES
                if name in selected & SERVICE_FIGURES
            )
    for setup_name, make_setup in setups:
        if selected & {"accept", "status"}:
            rows.extend(
                _guarded(
                    make_setup,
                    lambda s: _server_figures(s, selected=selected, sizes=sizes, quick=quick),
                    setup_name=setup_name,
                    figure=" + ".join(sorted(selected & {"accept", "status"})),
                    command=command,
                )
            )
        if "queue" in selected:
            rows.extend(
                _guarded(
                    make_setup,
                    lambda s: _queue_figures(s, sizes=sizes, quick=quick),
                    setup_name=setup_name,
                    figure="queue",
                    command=command,
                )
            )
        if "media" in selected and setup_name == EMBEDDED:
            rows.extend(
                _guarded(
                    make_setup,
                    lambda s: _media_figures(s, quick=quick, notes=media_notes),
                    setup_name=setup_name,
                    figure="media",
                    command=_command(quick=quick, only="media", only_embedded=only_embedded),
                )
            )
        if "scale" in selected and setup_name == EMBEDDED:
            rows.extend(
                _guarded(
                    make_setup,
                    lambda s: _scale_figures(s, quick=quick),
                    setup_name=setup_name,
                    figure="scale",
                    command=_command(quick=quick, only="scale", only_embedded=only_embedded),
                )
            )
    rows.sort(key=_row_order)
    if selected & SERVICE_FIGURES:
        notes = _notes(sizes=sizes, quick=quick) + notes
    if quick and media_notes:
        media_notes.insert(0, "`--quick`: short media; the ratio targets are for the full sizes.")
    sections = {NOTES: notes, MEDIA_NOTES: media_notes}
    write_stdout(rows, command=command, sections=sections)
    if write:
        write_markdown(
            rows,
            command=command,
            sections=sections,
            figure_order=FIGURES,
            kept_figures=set(FIGURES) - selected,
            services=[
                *_service_lines(postgres_url=postgres_url, redis_url=redis_url),
                "load average (1 min) at start / end: "
                f"{load_before:.1f} / {os.getloadavg()[0]:.1f} (other work on the machine)",
            ],
            elapsed_s=time.monotonic() - started,
        )
    return rows


def _row_order(row: Row) -> tuple[int, int]:
    keys = ("accept", "publish", "GET", "queue", "noop")
    if "--only media" in row.command or row.figure == "media":
        return len(keys) + 1, 0  # media rows keep the order they were measured in
    if "--only scale" in row.command or row.figure == "scale":
        return len(keys) + 2, 0
    figure_rank = next((i for i, key in enumerate(keys) if key in row.figure), len(keys))
    setup_rank = 0 if row.setup == SETUP_LABELS[EMBEDDED] else 1
    return figure_rank, setup_rank


def _notes(*, sizes: Sizes, quick: bool) -> list[str]:
    notes = [
        "The API runs as its own process (`python -m bench.serve`: `create_app` under uvicorn "
        "on 127.0.0.1, one process, log level warning, so no access log, no reconciler thread); "
        "the bench process is the client, on the same machine, so client and server share its "
        "cores. Latencies are measured at the client.",
        f"Accept: {sizes.items:,} items repeating the 12 sample articles in "
        "examples/news/batch.jsonl with unique custom_ids, `POST /v1/batches?template=voiceover` "
        "with `Content-Type: application/x-ndjson`, after one 12-item warm-up batch. No worker "
        "runs; the API publishes the ready stage messages after the 202 (background task), the "
        "bench waits for all of them (the publish row), then purges them.",
        "Status reads poll the last accepted batch and 1,000 of its jobs. Closed loop: every "
        "poller reads again as soon as it is answered, which measures throughput; at "
        f"saturation p50 ≈ {sizes.pollers} / throughput. Paced: every poller reads once a "
        "second, like a dashboard.",
        "Queue overhead: a bench-only `noop` stage kind (bench/noop_stage.py) in a three-stage "
        "chain, run by a real mediaq worker process (`python -m bench.noop_worker`, prefork, "
        f"concurrency {sizes.worker_concurrency}); one job at a time, after "
        f"{queue_overhead.WARMUP_JOBS} warm-up jobs, so no stage waits behind another. "
        "Times come from the stage_run rows.",
        "The embedded filesystem transport polls its folder every 0.02 s (`polling_interval` in "
        "producer/broker.py), so embedded send → start holds up to one polling interval by "
        "design; Redis delivers by blocking pop. A bare Celery task on prefork with Redis, no "
        "database, measured 4.4 ms from send to the start of its body on this machine (a script "
        "outside bench/, 60 sends, in an earlier session): the floor under this row.",
        "finish → next send is measured between two timestamps written in the same transaction "
        "(`complete_stage_run` stamps finished_at, `_advance_job` stamps queued_at); the commit "
        "and the publish itself happen after both, so they land in the next stage's send → start. "
        "finish → next start is the whole hop.",
        "kombu's stock filesystem transport let a worker read a message file that was created "
        "but not yet written and die (kombu issue #1551); the embedded broker is now "
        "producer/fs_broker.py (write then rename, claim by rename). Rows measured before that "
        "fix say 'worker died'; the queue bench still restarts a dead worker and says so.",
        "Status rows say how much CPU the bench client itself used: on 2 cores, what the client "
        "takes the server does not get.",
        "The machine is shared and noisy: expect ±20% between runs.",
    ]
    if quick:
        notes.insert(0, "`--quick`: small sizes; the targets are for the full sizes.")
    return notes


def _service_lines(*, postgres_url: str, redis_url: str) -> list[str]:
    import psycopg
    import redis

    lines = []
    try:
        with psycopg.connect(postgres_url.replace("+psycopg", ""), connect_timeout=2) as conn:
            version = conn.execute("SHOW server_version").fetchone()
        lines.append(f"PostgreSQL: {version[0] if version else '?'} on 127.0.0.1")
    except psycopg.Error:
        lines.append("PostgreSQL: not reachable")
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    try:
        lines.append(f"Redis: {client.info()['redis_version']} on 127.0.0.1")
    except redis.RedisError:
        lines.append("Redis: not reachable")
    finally:
        client.close()
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    parser.add_argument("--only", choices=FIGURES, help="run one figure")
    parser.add_argument("--embedded-only", action="store_true", help="skip PostgreSQL + Redis")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite BENCHMARKS.md")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="admin URL")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="a database to flush")
    args = parser.parse_args(argv)
    rows = run(
        quick=args.quick,
        only=args.only,
        only_embedded=args.embedded_only,
        write=not args.no_write,
        postgres_url=args.postgres_url,
        redis_url=args.redis_url,
    )
    has_errors = any(isinstance(row, Skipped) and row.is_error for row in rows)
    has_misses = any(isinstance(row, Figure) and row.is_met is False for row in rows)
    return 1 if has_errors or (has_misses and not args.quick) else 0


if __name__ == "__main__":
    sys.exit(main())
