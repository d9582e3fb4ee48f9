"""`mediaq demo` as a user runs it: a subprocess on a fresh data folder, timed from start to exit.

The demo starts the API and a worker, submits the 12 sample articles (news_anchor) and the 10
sample products (product_showcase), waits for both batches and downloads every output into
<data dir>/demo/<batch>/<custom_id>/, which the other media figures then read.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_DONE = re.compile(r"done: (\d+) succeeded, (\d+) failed")


@dataclass(frozen=True)
class DemoRun:
    wall_s: float
    succeeded: int
    failed: int
    demo_dir: Path  # <data dir>/demo: one folder per batch


def run_demo(*, data_dir: Path, timeout_s: float) -> DemoRun:
    """Run `python -m producer.cli demo --data-dir DATA_DIR` (the `mediaq demo` entry) to the end.

    Raises:
        RuntimeError: it failed or ran past `timeout_s` (then its process group is killed); the
            message ends with its last output lines.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / "demo.log"
    # the embedded default, whatever the environment points at
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MEDIAQ_DATABASE_URL": "",
           "MEDIAQ_BROKER_URL": "", "MEDIAQ_STORAGE_URL": ""}  # fmt: skip
    command = [sys.executable, "-m", "producer.cli", "demo", "--data-dir", str(data_dir)]
    started = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            code = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            tail = _tail(log_path)
            raise RuntimeError(f"mediaq demo ran past {timeout_s:.0f} s: {tail}") from None
    wall_s = time.perf_counter() - started
    output = log_path.read_text(errors="replace")
    if code != 0:
        raise RuntimeError(f"mediaq demo exited {code}: {_tail(log_path)}")
    counts = [tuple(int(n) for n in match.groups()) for match in _DONE.finditer(output)]
    return DemoRun(
        wall_s=wall_s,
        succeeded=sum(ok for ok, _ in counts),
        failed=sum(bad for _, bad in counts),
        demo_dir=data_dir / "demo",
    )


def _tail(path: Path, *, lines: int = 8) -> str:
    return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
