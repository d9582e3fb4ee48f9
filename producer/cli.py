"""The `mediaq` command: run the API, workers, migrations, the demo, and submit work."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from producer.client import ApiError, Client

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


class CliError(Exception):
    """A failure worth one line on stderr, not a traceback."""


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _settings(args: argparse.Namespace) -> Any:
    """Settings after applying --data-dir (through the environment, so child processes agree)."""
    data_dir = getattr(args, "data_dir", None)
    if data_dir:
        os.environ["MEDIAQ_DATA_DIR"] = str(Path(data_dir).resolve())
    from producer.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def cmd_migrate(args: argparse.Namespace) -> None:
    from producer.migrate import upgrade

    settings = _settings(args)
    upgrade(settings.resolved_database_url())
    say(f"database migrated: {_redact(settings.resolved_database_url())}")


def cmd_api(args: argparse.Namespace) -> None:
    from producer.embedded import serve_api

    serve_api(_settings(args), host=args.host, port=args.port)


def cmd_worker(args: argparse.Namespace) -> None:
    from producer.embedded import run_worker

    run_worker(_settings(args), queues=args.queues, concurrency=args.concurrency, is_gpu=args.gpu)


def cmd_scheduler(args: argparse.Namespace) -> None:
    from producer.jsonlog import configure_logging
    from producer.scheduler import run_scheduler

    settings = _settings(args)
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    run_scheduler(settings)


def cmd_up(args: argparse.Namespace) -> None:
    from producer.embedded import run_up

    run_up(_settings(args), host=args.host, port=args.port)


def cmd_demo(args: argparse.Namespace) -> None:
    from producer.demo import run_demo

    run_demo(
        _settings(args),
        items_path=Path(args.file) if args.file else None,
        template=args.template,
    )


def cmd_dev_cert(args: argparse.Namespace) -> None:
    from producer.devcert import create_dev_cert

    settings = _settings(args)
    out = Path(args.out) if args.out else settings.data_dir / "c2pa"
    cert = create_dev_cert(out_dir=out, force=args.force)
    say(f"certificate chain: {cert.cert_chain_path}")
    say(f"private key:       {cert.key_path}")
    say("use them with MEDIAQ_C2PA_CERT_PATH and MEDIAQ_C2PA_KEY_PATH (a test chain: not trusted)")


def cmd_submit(args: argparse.Namespace) -> None:
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    client = _client(args)
    try:
        accepted = client.submit_file(
            path, template=args.template, priority=args.priority, idempotency_key=args.key
        )
        say(f"batch {accepted['id']}: {accepted['item_count']} jobs accepted")
        if args.wait:
            view = client.wait_for_batch(
                accepted["id"], timeout_s=args.timeout, on_progress=progress_bar
            )
            say(json.dumps(view["counts"]))
            if view["counts"].get("failed", 0):
                raise CliError(f"{view['counts']['failed']} job(s) failed; see mediaq status ID")
    finally:
        client.close()


def cmd_status(args: argparse.Namespace) -> None:
    client = _client(args)
    try:
        try:
            view = client.batch(args.id, jobs_limit=args.jobs)
        except ApiError as error:
            if "404" not in str(error):
                raise
            view = client.job(args.id)
        say(json.dumps(view, indent=2))
    finally:
        client.close()


_last_progress: list[str] = [""]


def _client(args: argparse.Namespace) -> Client:
    settings = _settings(args)
    return Client(args.url or settings.api_url, api_key=args.api_key or settings.api_key)


def _database(settings: Any) -> Any:
    """The database for admin commands; the embedded SQLite file is migrated on first use."""
    from producer.db import Database
    from producer.migrate import upgrade

    db = Database(settings.resolved_database_url())
    if db.is_sqlite:
        upgrade(settings.resolved_database_url())
    return db


def cmd_keys_create(args: argparse.Namespace) -> None:
    from producer.keys import create_key

    settings = _settings(args)
    db = _database(settings)
    try:
        with db.session() as session:
            key_id, key = create_key(
                session=session,
                tenant_id=args.tenant,
                scopes=[s.strip() for s in args.scopes.split(",") if s.strip()],
                name=args.name,
                secret=settings.resolved_secret_key(),
                rate_per_s=args.rate,
                max_jobs=args.max_jobs,
            )
    except ValueError as error:
        raise CliError(str(error)) from None
    finally:
        db.dispose()
    say(f"key {key_id} for tenant {args.tenant!r} ({args.scopes}); shown once:")
    say(key)


def cmd_keys_list(args: argparse.Namespace) -> None:
    from producer.keys import list_keys

    db = _database(_settings(args))
    try:
        with db.read_session() as session:
            rows = list_keys(session=session, tenant_id=args.tenant)
            for row in rows:
                state = "revoked" if row.revoked_at else "active"
                limits = f"rate={row.rate_per_s or '-'}/s max-jobs={row.max_jobs or '-'}"
                say(
                    f"{row.id}  {row.tenant_id:<20} {','.join(row.scopes):<20} "
                    f"{state:<8} {limits:<28} {row.name}"
                )
    finally:
        db.dispose()


def cmd_keys_revoke(args: argparse.Namespace) -> None:
    from producer.keys import revoke_key

    db = _database(_settings(args))
    try:
        with db.session() as session:
            if not revoke_key(session=session, key_id=args.key_id):
                raise CliError(f"no active key {args.key_id!r}")
    finally:
        db.dispose()
    say(f"key {args.key_id} revoked")


def cmd_gc(args: argparse.Namespace) -> None:
    from datetime import timedelta

    from producer.object_gc import collect_garbage
    from producer.objectstore import open_object_store

    if args.older_than_hours < 1:
        raise CliError("--older-than-hours must be at least 1: younger objects may be in use")
    settings = _settings(args)
    db = _database(settings)
    try:
        report = collect_garbage(
            db=db,
            store=open_object_store(settings.resolved_storage_url()),
            grace=timedelta(hours=args.older_than_hours),
            dry_run=not args.delete,
        )
    finally:
        db.dispose()
    say(report.summary(dry_run=not args.delete))
    if not args.delete and report.deleted:
        say("run again with --delete to delete them")


def progress_bar(view: dict[str, Any]) -> None:
    """Redraw one progress line on a terminal; print a line per change when piped."""
    counts, total = view["counts"], max(1, view["item_count"])
    done = sum(counts.get(s, 0) for s in ("succeeded", "failed", "canceled", "expired"))
    width = 30
    filled = int(width * done / total)
    line = (
        f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
        f"succeeded {counts.get('succeeded', 0)} running {counts.get('running', 0)} "
        f"failed {counts.get('failed', 0)}"
    )
    if line == _last_progress[0]:
        return
    _last_progress[0] = line
    sys.stderr.write(f"\r{line}  " if sys.stderr.isatty() else f"{line}\n")
    sys.stderr.flush()


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mediaq", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Callable[[argparse.Namespace], None], help_: str) -> Any:
        command = sub.add_parser(name, help=help_)
        command.set_defaults(handler=handler)
        return command

    def data_dir(command: Any) -> None:
        command.add_argument("--data-dir", help="folder for the SQLite file and local objects")

    migrate = add("migrate", cmd_migrate, "upgrade the database schema")
    data_dir(migrate)
    for name, handler, help_ in (
        ("up", cmd_up, "API and workers in one command (embedded default)"),
        ("api", cmd_api, "the HTTP API only"),
    ):
        command = add(name, handler, help_)
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=8000)
        data_dir(command)
    worker = add("worker", cmd_worker, "a Celery worker")
    worker.add_argument("--queues", default="cpu", help="comma-separated queues: cpu,gpu")
    worker.add_argument("--concurrency", type=int, default=0, help="processes; 0: CPU cores")
    worker.add_argument(
        "--gpu", action="store_true", help="consume only the gpu queue, threads sharing the models"
    )
    data_dir(worker)
    scheduler = add(
        "scheduler", cmd_scheduler, "fire scheduled drops (any number may run: each run fires once)"
    )
    data_dir(scheduler)
    demo = add("demo", cmd_demo, "run the sample batches end to end and print the outputs")
    demo.add_argument("--file", help="a JSONL/CSV of items instead of the sample batches")
    demo.add_argument("--template", help="template for --file (default news_anchor)")
    data_dir(demo)
    dev_cert = add("dev-cert", cmd_dev_cert, "make a local C2PA test certificate chain")
    dev_cert.add_argument("--out", help="folder (default: <data dir>/c2pa)")
    dev_cert.add_argument("--force", action="store_true", help="replace existing files")
    data_dir(dev_cert)
    gc = add("gc", cmd_gc, "find (and with --delete, delete) stored objects nothing refers to")
    gc.add_argument("--delete", action="store_true", help="delete them (default: only count)")
    gc.add_argument(
        "--older-than-hours",
        type=float,
        default=48,
        help="only objects stored longer ago than this (default 48; at least 1)",
    )
    data_dir(gc)
    submit = add("submit", cmd_submit, "submit a JSONL or CSV file as a batch")
    submit.add_argument("file")
    submit.add_argument("--template", required=True)
    submit.add_argument("--priority", type=int, default=5)
    submit.add_argument("--key", help="Idempotency-Key, so a retried submit creates nothing new")
    submit.add_argument("--wait", action="store_true", help="show progress until done")
    submit.add_argument("--timeout", type=float, default=3600)
    submit.add_argument("--url", help="API address (MEDIAQ_API_URL)")
    submit.add_argument("--api-key", help="API key (MEDIAQ_API_KEY)")
    status = add("status", cmd_status, "show a batch or a job")
    status.add_argument("id")
    status.add_argument("--jobs", type=int, default=100, help="jobs to list for a batch")
    status.add_argument("--url", help="API address (MEDIAQ_API_URL)")
    status.add_argument("--api-key", help="API key (MEDIAQ_API_KEY)")
    keys = sub.add_parser("keys", help="API keys: create, list, revoke").add_subparsers(
        dest="keys_command", required=True
    )
    create = keys.add_parser("create", help="make a key (shown once)")
    create.set_defaults(handler=cmd_keys_create)
    create.add_argument("--tenant", required=True)
    create.add_argument(
        "--scopes", default="submit,read", help="comma-separated: submit,read,admin"
    )
    create.add_argument("--name", default="", help="a label for the key")
    create.add_argument(
        "--rate",
        type=float,
        help="submissions per second for this key, reads 10x (default MEDIAQ_SUBMIT_RATE_PER_S)",
    )
    create.add_argument(
        "--max-jobs",
        type=int,
        help="unfinished jobs the tenant may have (default MEDIAQ_MAX_UNFINISHED_JOBS)",
    )
    listing = keys.add_parser("list", help="keys and their state (never the keys themselves)")
    listing.set_defaults(handler=cmd_keys_list)
    listing.add_argument("--tenant")
    revoke = keys.add_parser("revoke", help="revoke a key by its id")
    revoke.set_defaults(handler=cmd_keys_revoke)
    revoke.add_argument("key_id")
    for command in (create, listing, revoke):
        data_dir(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except (CliError, ApiError) as error:
        sys.stderr.write(f"mediaq: {error}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # one line for the user; the traceback only on request
        if os.environ.get("MEDIAQ_DEBUG"):
            raise
        sys.stderr.write(f"mediaq: {type(error).__name__}: {error} (MEDIAQ_DEBUG=1 for details)\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
