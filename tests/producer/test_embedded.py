"""Process wiring: a worker started by `up`, `demo` or a test does not outlive its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from producer.settings import Settings

pytestmark = pytest.mark.timeout(120)

PARENT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from producer.embedded import start_worker_process
    from producer.settings import Settings

    worker = start_worker_process(Settings(data_dir=Path(sys.argv[1])), concurrency=1)
    print(worker.pid, flush=True)
    time.sleep(600)
    """
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose; its parent (init) reaps it soon
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def wait_until_dead(pid: int, *, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_worker_shuts_down_when_its_parent_is_killed(embedded_settings: Settings) -> None:
    # Given a parent process that started a worker (as `mediaq up` does)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(embedded_settings.data_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    worker_pid = int(parent.stdout.readline())
    try:
        time.sleep(3)  # the worker is up and watching
        assert alive(worker_pid)

        # When the parent dies without a chance to stop it
        parent.send_signal(signal.SIGKILL)
        parent.wait()

        # Then the worker shuts itself down instead of consuming tasks as an orphan
        assert wait_until_dead(worker_pid, timeout_s=60), "the orphaned worker is still running"
        log = (embedded_settings.data_dir / "worker.log").read_text()
        assert "is gone: warm shutdown" in log
    finally:
        if alive(worker_pid):
            os.killpg(worker_pid, signal.SIGKILL)
