"""Process wiring: the API server, a Celery worker, and both together (`mediaq up`)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from producer.settings import Settings

log = logging.getLogger(__name__)

# set by start_worker_process: the pid of the process the worker must not outlive
PARENT_PID_ENV = "_MEDIAQ_PARENT_PID"
ORPHAN_GRACE_S = 30.0


def _configure_logging(settings: Settings) -> None:
    from producer.jsonlog import configure_logging

    configure_logging(log_format=settings.log_format, level=settings.log_level)


def _build_app(settings: Settings, *, with_reconciler: bool) -> object:
    from producer.main import create_app
    from producer.migrate import upgrade
    from producer.reconciler import Reconciler
    from producer.webhooks.relay import WebhookRelay

    if settings.env == "dev":
        # production runs `mediaq migrate` once (the migrations Job), not in every replica
        upgrade(settings.resolved_database_url())
    app = create_app(settings)
    if with_reconciler:
        svc = app.state.services
        # kept on the app so whoever stops the server stops it too (ApiThread.stop)
        app.state.reconciler = Reconciler(db=svc.db, app=svc.celery, settings=settings)
        app.state.reconciler.start()
        # webhooks go out from every API process; replicas share the work through the database
        app.state.webhook_relay = WebhookRelay(
            db=svc.db, settings=settings, server_secret=svc.secret
        )
        app.state.webhook_relay.start()
    return app


def serve_api(settings: Settings, *, host: str, port: int, with_scheduler: bool = False) -> None:
    """Run the API (with the reconciler, and the scheduler if asked) in the foreground."""
    _configure_logging(settings)
    app = _build_app(settings, with_reconciler=True)
    if with_scheduler:
        _start_scheduler(app, settings)
    # log_config=None: uvicorn's loggers go through ours (JSON in production)
    uvicorn.run(app, host=host, port=port, log_config=None, log_level=settings.log_level.lower())


def _start_scheduler(app: Any, settings: Settings) -> None:
    """Scheduled drops without an extra process (`mediaq up`); production: `mediaq scheduler`."""
    from producer.scheduler import Scheduler

    svc = app.state.services
    app.state.scheduler = Scheduler(
        db=svc.db, store=svc.store, celery=svc.celery, settings=settings
    )
    app.state.scheduler.start()


def run_worker(settings: Settings, *, queues: str, concurrency: int, is_gpu: bool = False) -> None:
    """Run a Celery worker in the foreground (late ack, prefetch 1).

    A CPU worker forks one process per core. A GPU worker (`--gpu`) consumes only the `gpu`
    queue with a pool of threads in one process, so every stage shares the models loaded once
    and the dynamic batcher can stack requests from different jobs into one forward pass.
    """
    from workers.app import app

    _exit_with_parent()
    if is_gpu:
        queues, pool = "gpu", "threads"
        processes = concurrency or max(2, settings.batch_max_size)
    else:
        pool = "prefork"
        processes = concurrency or settings.worker_concurrency or os.cpu_count() or 1
    app.worker_main(
        [
            "worker",
            "--queues",
            queues,
            "--concurrency",
            str(processes),
            "--pool",
            pool,
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def _exit_with_parent() -> None:
    """Stop this worker when the process that started it dies, even by SIGKILL.

    An orphaned worker would go on taking tasks from a shared broker with settings nobody runs
    any more (a deleted data folder, an old database) and fail them. Workers started by hand or
    by Kubernetes have no such parent and are not watched.
    """
    raw = os.environ.pop(PARENT_PID_ENV, None)  # popped: pool children are not watchers
    if not raw:
        return
    parent = int(raw)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        log.warning("parent process %d is gone: warm shutdown", parent)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(ORPHAN_GRACE_S)
        os.killpg(os.getpgid(0), signal.SIGKILL)

    threading.Thread(target=watch, name="mediaq-parent-watch", daemon=True).start()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process build the same settings as `settings`."""
    env = {
        f"MEDIAQ_{name.upper()}": str(value)
        for name, value in settings.model_dump().items()
        if value is not None
    }
    env["MEDIAQ_DATA_DIR"] = str(settings.data_dir.resolve())
    env["MEDIAQ_DATABASE_URL"] = settings.resolved_database_url()
    env["MEDIAQ_BROKER_URL"] = settings.resolved_broker_url()
    env["MEDIAQ_STORAGE_URL"] = settings.resolved_storage_url()
    return env


def start_worker_process(
    settings: Settings, *, queues: str = "cpu,gpu", concurrency: int = 0, is_gpu: bool = False
) -> subprocess.Popen[bytes]:
    """A `mediaq worker` child process with the same settings, logging to data_dir/worker.log."""
    env = {**os.environ, **settings_env(settings), PARENT_PID_ENV: str(os.getpid())}
    log_path = settings.data_dir / ("gpu-worker.log" if is_gpu else "worker.log")
    command = ["worker", "--queues", queues, "--concurrency", str(concurrency)]
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "producer.cli", *command, *(["--gpu"] if is_gpu else [])],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_process(process: subprocess.Popen[bytes], *, timeout_s: float = 20) -> None:
    """SIGTERM (Celery's warm shutdown), then SIGKILL the group if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def local_api_key(settings: Settings) -> str:
    """The embedded mode's own key (tenant "default", every scope), made once per data folder."""
    from producer.db import Database
    from producer.keys import create_key, verify_key

    path = settings.data_dir / "local-api-key"
    db = Database(settings.resolved_database_url())
    try:
        secret = settings.resolved_secret_key()
        if path.exists():
            key = path.read_text(encoding="utf-8").strip()
            with db.read_session() as session:
                if verify_key(session=session, key=key, secret=secret):
                    return key
        with db.session() as session:
            _, key = create_key(
                session=session, tenant_id="default", scopes=["admin"], name="local", secret=secret
            )
    finally:
        db.dispose()
    path.write_text(key + "\n", encoding="utf-8")
    path.chmod(0o600)
    return key


class ApiThread(threading.Thread):
    """The API served by uvicorn in a background thread (for `demo` and tests)."""

    def __init__(self, settings: Settings, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(name="mediaq-api", daemon=True)
        app = _build_app(settings, with_reconciler=True)
        self.reconciler = app.state.reconciler  # type: ignore[attr-defined]
        self.webhook_relay = app.state.webhook_relay  # type: ignore[attr-defined]
        self.api_key = local_api_key(settings)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning")
        self.server = uvicorn.Server(config)

    def run(self) -> None:
        self.server.run()

    @property
    def url(self) -> str:
        sockets = self.server.servers[0].sockets
        host, port = sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def wait_started(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self.is_alive():
                raise RuntimeError("the API did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        # a reconciler left running would go on polling (and re-sending into) a database and a
        # broker its test or demo has since thrown away
        self.reconciler.stop()
        self.webhook_relay.stop()
        self.server.should_exit = True
        self.join(timeout=10)


@contextmanager
def embedded_system(settings: Settings, *, concurrency: int = 0) -> Iterator[ApiThread]:
    """API thread plus one worker process; everything stopped on exit."""
    api = ApiThread(settings)
    worker = start_worker_process(settings, concurrency=concurrency)
    try:
        api.start()
        api.wait_started()
        yield api
    finally:
        stop_process(worker)
        api.stop()


def run_up(settings: Settings, *, host: str, port: int) -> None:
    """API in the foreground, a worker process beside it; Ctrl-C stops both."""
    _configure_logging(settings)
    from producer.migrate import upgrade

    upgrade(settings.resolved_database_url())
    key = local_api_key(settings)
    sys.stdout.write(
        "local API key (tenant 'default', all scopes; also in "
        f"{settings.data_dir / 'local-api-key'}):"
        f"\n  {key}\n"
    )
    sys.stdout.flush()
    worker = start_worker_process(settings)
    log.info("worker started (pid %d), log: %s", worker.pid, settings.data_dir / "worker.log")
    try:
        serve_api(settings, host=host, port=port, with_scheduler=True)
    finally:
        stop_process(worker)
