"""Starting and always stopping the processes a figure needs: the API server and noop workers."""

from __future__ import annotations

import contextlib
import os
import signal
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
    env = {**os.environ, "PYTHONPATH": str(ROOT), **setup.env}
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stop_process kills the whole group if it lingers
        )


def api_headers(setup: Setup) -> dict[str, str]:
    """The Authorization header with the key `bench.serve` made for this setup."""
    key = (setup.data_dir / "local-api-key").read_text(encoding="utf-8").strip()
    return {"Authorization": f"Bearer {key}"}


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


class NoopWorker:
    """A real mediaq Celery worker (prefork) that also knows the noop kind.

    `restart()` replaces a worker that died: the embedded filesystem broker can kill it (see
    `crashes`), and the bench counts that instead of stalling.
    """

    def __init__(self, setup: Setup, *, concurrency: int) -> None:
        self.setup, self.concurrency = setup, concurrency
        self.crashes = 0
        self.process = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        args = ["bench.noop_worker", "--concurrency", str(self.concurrency)]
        return _spawn(self.setup, args, self.setup.data_dir / "worker.log")

    @property
    def is_alive(self) -> bool:
        return self.process.poll() is None

    def restart(self) -> None:
        self.crashes += 1
        self.stop()
        self.process = self._start()

    def stop(self) -> None:
        stop_process(self.process, timeout_s=20)
        # a main process that died leaves its pool children behind; they share its group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def __enter__(self) -> NoopWorker:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def worker_log_tail(setup: Setup) -> str:
    return _tail(setup.data_dir / "worker.log")
