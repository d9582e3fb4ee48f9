"""The `mediaq` command as a user runs it: up, submit --wait, status, and one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.services import find_free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def mediaq(
    *args: str, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "producer.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MEDIAQ_")}


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "mediaq up exited early"
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("mediaq up did not become ready")


def test_up_then_submit_wait_and_status(tmp_path: Path) -> None:
    port = find_free_port()
    url = f"http://127.0.0.1:{port}"
    env = clean_env()
    created = mediaq("keys", "create", "--tenant", "default", "--data-dir", str(tmp_path), env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.splitlines()[-1]
    env["MEDIAQ_API_KEY"] = key
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "producer.cli",
            "up",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_ready(url, up)
        # Given a running system, When the product catalog is submitted with --wait
        result = mediaq(
            "submit",
            str(EXAMPLES / "products" / "catalog.csv"),
            "--template",
            "voiceover",
            "--wait",
            "--url",
            url,
            env=env,
        )
        # Then it reports the batch and every job succeeded
        assert result.returncode == 0, result.stderr
        batch_id = result.stdout.split()[1].rstrip(":")
        assert json.loads(result.stdout.splitlines()[-1])["succeeded"] == 10
        assert "10/10" in result.stderr
        status = mediaq("status", batch_id, "--url", url, env=env)
        assert status.returncode == 0 and json.loads(status.stdout)["counts"]["succeeded"] == 10
        job_id = json.loads(status.stdout)["jobs"][0]["id"]
        job = json.loads(mediaq("status", job_id, "--url", url, env=env).stdout)
        assert job["custom_id"] == "MUG-TC-350" and job["state"] == "succeeded"
        assert (tmp_path / "mediaq.db").exists() and (tmp_path / "objects").is_dir()
    finally:
        os.killpg(up.pid, signal.SIGTERM)
        up.wait(timeout=60)


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    missing = mediaq("submit", str(tmp_path / "nope.jsonl"), "--template", "voiceover")
    assert (
        missing.returncode == 1
        and missing.stderr.strip() == f"mediaq: no such file: {tmp_path / 'nope.jsonl'}"
    )
    port = find_free_port()
    unreachable = mediaq(
        "status", "abc", "--url", f"http://127.0.0.1:{port}", "--api-key", "mq_x_y"
    )
    assert unreachable.returncode == 1
    assert (
        unreachable.stderr.startswith("mediaq: cannot reach the API")
        and "Traceback" not in unreachable.stderr
    )
    assert len(unreachable.stderr.strip().splitlines()) == 1
