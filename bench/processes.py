"""Starting and always stopping the processes a figure needs: the API server and noop workers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.setups import Setup
from producer.embedded import stop_process

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 60
START_ATTEMPTS = 3  # a free port can be taken between finding it and binding it


class ProcessFailed(RuntimeError):
    """A bench child process did not start; the message holds the tail of its log."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(setup: Setup, args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **setup.env, "PYTHONPATH": str(ROOT)}
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stop_process kills the whole group if it lingers
        )


def _tail(path: Path, *, lines: int = 15) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


@contextmanager
def api_server(setup: Setup) -> Iterator[str]:
    """`python -m bench.serve` on a free 127.0.0.1 port; yields its base URL; stopped on exit.

    Raises:
        ProcessFailed: the server did not answer /healthz within START_TIMEOUT_S.
    """
    log_path = setup.data_dir / "api.log"
    setup.data_dir.mkdir(parents=True, exist_ok=True)
    for _ in range(START_ATTEMPTS):
        port = _free_port()
        process = _spawn(setup, ["bench.serve", "--port", str(port)], log_path)
        url = f"http://127.0.0.1:{port}"
        try:
            if _wait_healthy(url, process):
                yield url
                return
        finally:
            stop_process(process, timeout_s=10)
    raise ProcessFailed(f"the bench API server did not start; log tail:\n{_tail(log_path)}")


@contextmanager
def noop_worker(setup: Setup, *, concurrency: int) -> Iterator[subprocess.Popen[bytes]]:
    """A real mediaq Celery worker (prefork) that also knows the noop kind; stopped on exit."""
    log_path = setup.data_dir / "worker.log"
    process = _spawn(
        setup, ["bench.noop_worker", "--concurrency", str(concurrency)], log_path
    )
    try:
        yield process
    finally:
        stop_process(process, timeout_s=20)


def worker_log_tail(setup: Setup) -> str:
    return _tail(setup.data_dir / "worker.log")
