"""Servers a fault test may break: a restartable redis-server, a restartable PostgreSQL cluster.

Both listen on a fixed port across restarts (clients reconnect to the same URL, as they would
to a Kubernetes Service), unlike the throwaway servers of tests/services.py which only start
and stop.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests import services


class RedisServer:
    """A redis-server process in a temp folder that can be stopped and started on its port.

    Args:
        binary: path of redis-server.
        is_persistent: `appendonly yes` (fsync every write), so a restart keeps the messages,
            as a queue's Redis must be configured; otherwise nothing survives a restart.
    """

    def __init__(self, *, binary: str, is_persistent: bool) -> None:
        self.binary, self.is_persistent = binary, is_persistent
        self.data_dir = Path(tempfile.mkdtemp(prefix="mediaq-fault-redis-"))
        self.port = services.find_free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start on self.port and wait until it answers PING (it reloads its AOF first)."""
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--dir", str(self.data_dir), "--daemonize", "no"]
        args += ["--maxmemory-policy", "noeviction"]
        if self.is_persistent:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        with (self.data_dir / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + services.START_TIMEOUT_S
        while not services.redis_answers(url=self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM: Redis closes its clients and, when persistent, flushes the AOF."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def flushall(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            client.flushall()
        finally:
            client.close()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


class PostgresCluster:
    """A throwaway PostgreSQL cluster that can be stopped and started again on its port."""

    def __init__(self, server: services.ThrowawayPostgres) -> None:
        self.server = server
        self.port = int(server.url.rsplit(":", 1)[1].split("/", 1)[0])

    def _pg_ctl(self, *args: str) -> None:
        command = [str(self.server.bin_dir / "pg_ctl"), *args, "-D", str(self.data_dir), "-w"]
        result = services._run_as(self.server.os_user, command, cwd=self.server.base_dir)
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl {args[0]} failed:\n{result.stdout}{result.stderr}")

    @property
    def data_dir(self) -> Path:
        return self.server.base_dir / "data"

    def stop(self) -> None:
        """Fast shutdown: open connections are ended, as in a failover or a restart."""
        self._pg_ctl("stop", "-m", "fast")

    def start(self) -> None:
        base = self.server.base_dir
        options = f"-p {self.port} -h 127.0.0.1 -k {base} -F -c full_page_writes=off"
        self._pg_ctl("start", "-l", str(base / "postgres.log"), "-o", options)

    def close(self) -> None:
        self.server.stop()
