"""Real services for tests: find PostgreSQL, Redis and an S3 API, or start throwaway ones.

Plain functions and context managers; the fixtures in tests/conftest.py wire them to pytest.
Order of preference for each server: the URL in the environment, the one on its usual local port,
a throwaway process started from the installed binaries, and otherwise ServiceUnavailable
(which the fixtures turn into a skip locally and a failure in CI).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

# Local servers tried in order. The user differs between machines: `postgres` where the server
# came from a package, `root` where the test machine set it up for root.
LOCAL_POSTGRES_URLS = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://root@127.0.0.1:5432/test",
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "postgresql+psycopg://root@127.0.0.1:5432/postgres",
)
LOCAL_REDIS_URL = "redis://127.0.0.1:6379"
REDIS_TEST_DB = 15  # far from db 0, which a developer's own tools use
CONNECT_TIMEOUT_S = 2
START_TIMEOUT_S = 15
START_ATTEMPTS = 3  # a free port can be taken between finding it and binding it


class ServiceUnavailable(Exception):
    """No server of the kind could be found or started; the message says how to provide one."""


def skip_or_fail(message: str) -> NoReturn:
    """Skip the current test for a missing service, or fail it when env CI is "true".

    Locally, a missing server should not block work on everything else; in CI it would
    silently drop a whole class of tests, so there it is an error.
    """
    import pytest

    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: a missing service fails instead of skipping)", False)
    pytest.skip(message)


def find_free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago; callers retry if it is taken."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redact(url: str) -> str:
    """The URL without its password and query string, for messages."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _tail(path: Path, *, lines: int = 20) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- PostgreSQL ---------------------------------------------------------------------------------


def libpq_url(url: str) -> str:
    """`postgresql+psycopg://...` (SQLAlchemy) as `postgresql://...` (libpq, psycopg.connect)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


def sqlalchemy_url(url: str) -> str:
    """`postgresql://` or `postgres://` as `postgresql+psycopg://`, the driver the app uses."""
    scheme, rest = url.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        scheme = "postgresql+psycopg"
    return f"{scheme}://{rest}"


def with_database(url: str, name: str) -> str:
    """The same server URL, naming database `name`."""
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def postgres_answers(*, url: str) -> bool:
    """Whether a PostgreSQL server accepts a connection at `url` and runs SELECT 1."""
    import psycopg

    try:
        with psycopg.connect(libpq_url(url), connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def find_local_postgres_url() -> str | None:
    """The first of LOCAL_POSTGRES_URLS that answers, or None."""
    return next((url for url in LOCAL_POSTGRES_URLS if postgres_answers(url=url)), None)


def find_postgres_bin_dir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres of one version, or None."""
    initdb = shutil.which("initdb")
    if initdb:
        # Resolve the symlink (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb)
        # so pg_ctl and postgres come from the same version as initdb.
        return Path(initdb).resolve().parent
    found = Path("/usr/lib/postgresql").glob("*/bin/initdb")
    versioned = [p for p in found if p.parts[-3].isdigit()]
    if not versioned:
        return None
    return max(versioned, key=lambda p: int(p.parts[-3])).parent


def _postgres_os_user() -> str | None:
    """The OS user to run the cluster as: None for the current one, unless that is root.

    PostgreSQL refuses to run as root. Running a subprocess as another user needs no su or sudo
    here, since we are root: subprocess sets the uid and gid itself.
    """
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise ServiceUnavailable("running as root, and no 'postgres' or 'nobody' user to run initdb as")


def _run_as(user: str | None, args: list[str], *, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a command to completion as `user` (None: as ourselves), capturing its output."""
    pw = pwd.getpwnam(user) if user is not None else None
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
        user=pw.pw_uid if pw else None,
        group=pw.pw_gid if pw else None,
        extra_groups=[] if pw else None,  # drop root's supplementary groups too
    )


@dataclass(frozen=True)
class ThrowawayPostgres:
    """A PostgreSQL cluster in a temp folder, trust auth, listening on 127.0.0.1 only."""

    url: str  # admin URL: user postgres, database postgres
    base_dir: Path
    bin_dir: Path
    os_user: str | None

    def stop(self) -> None:
        """Stop the server at once (the data is thrown away anyway) and delete its folder."""
        pg_ctl = str(self.bin_dir / "pg_ctl")
        args = [pg_ctl, "stop", "-D", str(self.base_dir / "data"), "-m", "immediate", "-w"]
        _run_as(self.os_user, args, cwd=self.base_dir)
        shutil.rmtree(self.base_dir, ignore_errors=True)


def start_throwaway_postgres(*, bin_dir: Path) -> ThrowawayPostgres:
    """initdb a cluster in a temp folder and start it on a free port; about 2 s.

    Raises:
        RuntimeError: initdb or pg_ctl failed; the message carries their output.
    """
    os_user = _postgres_os_user()
    base_dir = Path(tempfile.mkdtemp(prefix="mediaq-pg-"))
    try:
        if os_user is not None:
            pw = pwd.getpwnam(os_user)
            os.chown(base_dir, pw.pw_uid, pw.pw_gid)
        _initdb(bin_dir=bin_dir, base_dir=base_dir, os_user=os_user)
        port = _pg_ctl_start(bin_dir=bin_dir, base_dir=base_dir, os_user=os_user)
    except BaseException:
        shutil.rmtree(base_dir, ignore_errors=True)
        raise
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    return ThrowawayPostgres(url=url, base_dir=base_dir, bin_dir=bin_dir, os_user=os_user)


def _initdb(*, bin_dir: Path, base_dir: Path, os_user: str | None) -> None:
    # --no-sync and --no-locale: fast, and independent of the locales the machine has.
    args = [str(bin_dir / "initdb"), "-D", str(base_dir / "data"), "-U", "postgres"]
    args += ["--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"]
    result = _run_as(os_user, args, cwd=base_dir)
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def _pg_ctl_start(*, bin_dir: Path, base_dir: Path, os_user: str | None) -> int:
    """Start the cluster on a free port, retrying on another port; returns the port."""
    log_path = base_dir / "postgres.log"
    for _ in range(START_ATTEMPTS):
        port = find_free_port()
        # Durability off: a test cluster that loses data in a crash loses nothing of value.
        options = f"-p {port} -h 127.0.0.1 -k {base_dir} -F -c full_page_writes=off"
        args = [str(bin_dir / "pg_ctl"), "start", "-D", str(base_dir / "data"), "-w"]
        args += ["-t", str(START_TIMEOUT_S - 5), "-l", str(log_path), "-o", options]
        if _run_as(os_user, args, cwd=base_dir).returncode == 0:
            return port
    raise RuntimeError(f"PostgreSQL did not start; log tail:\n{_tail(log_path)}")


@contextmanager
def fresh_database(*, admin_url: str) -> Iterator[str]:
    """Create an empty database `mediaq_test_<random>`, yield its SQLAlchemy URL, then drop it.

    Args:
        admin_url: a server URL whose user may CREATE DATABASE.
    """
    import psycopg
    from psycopg import sql

    name = f"mediaq_test_{secrets.token_hex(6)}"
    with psycopg.connect(
        libpq_url(admin_url), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
    ) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield sqlalchemy_url(with_database(admin_url, name))
    finally:
        # FORCE (PostgreSQL 13+) ends connections a test leaked, which would block the drop.
        with psycopg.connect(
            libpq_url(admin_url), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        ) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            conn.execute(drop)


@contextmanager
def postgres_server(*, env_url: str | None) -> Iterator[str]:
    """Yield an admin URL of a PostgreSQL server, starting a throwaway one if needed.

    Args:
        env_url: MEDIAQ_TEST_POSTGRES_URL, if set; then it is the only server tried.

    Raises:
        ServiceUnavailable: nothing answers and no binaries to start a server from.
    """
    if env_url:
        if not postgres_answers(url=env_url):
            raise ServiceUnavailable(
                f"PostgreSQL at MEDIAQ_TEST_POSTGRES_URL ({redact(env_url)}) does not answer"
            )
        yield sqlalchemy_url(env_url)
        return
    local_url = find_local_postgres_url()
    if local_url is not None:
        yield local_url
        return
    bin_dir = find_postgres_bin_dir()
    if bin_dir is None:
        raise ServiceUnavailable(
            "no PostgreSQL: set MEDIAQ_TEST_POSTGRES_URL, run one on 127.0.0.1:5432 with trust "
            "auth, or install the server binaries (initdb, pg_ctl) to start a throwaway one"
        )
    server = start_throwaway_postgres(bin_dir=bin_dir)
    try:
        yield server.url
    finally:
        server.stop()


# --- Redis --------------------------------------------------------------------------------------


def redis_answers(*, url: str) -> bool:
    """Whether a Redis server at `url` answers PING."""
    import redis

    client = redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=CONNECT_TIMEOUT_S
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def with_redis_db(url: str, *, db: int) -> str:
    """The URL with database `db`, unless it already names one (an explicit choice is kept)."""
    parts = urlsplit(url)
    if parts.path.strip("/"):
        return url
    return parts._replace(path=f"/{db}").geturl()


def idle_redis_db(url: str, *, preferred: int) -> int:
    """`preferred`, unless another client is connected to it: then the highest idle database.

    A consumer left over from an earlier run (an orphaned worker with a deleted data folder)
    would take this run's tasks and fail them; a database nobody is connected to is ours alone.
    """
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S)
    try:
        own = client.client_id()
        busy = {int(c["db"]) for c in client.client_list() if int(c["id"]) != own}
    finally:
        client.close()
    for db in (preferred, *range(15, 0, -1)):
        if db not in busy:
            return db
    raise ServiceUnavailable(f"every Redis database at {url} has clients connected")


def flush_redis(*, url: str) -> None:
    """FLUSHDB on the URL's database only: other databases on a shared server are not ours."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S)
    try:
        client.flushdb()
    finally:
        client.close()


@dataclass(frozen=True)
class ThrowawayRedis:
    """A redis-server process without persistence, listening on 127.0.0.1 only."""

    url: str  # no database number
    process: subprocess.Popen[bytes]
    data_dir: Path

    def stop(self) -> None:
        """Terminate the server, wait for it, and delete its folder."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def start_throwaway_redis(*, binary: str) -> ThrowawayRedis:
    """Start `redis-server` on a free port and wait until it answers PING.

    Raises:
        RuntimeError: it did not answer within START_TIMEOUT_S; the message has its log.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="mediaq-redis-"))
    log_path = data_dir / "redis.log"
    for _ in range(START_ATTEMPTS):
        port = find_free_port()
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(data_dir), "--daemonize", "no"]
        with log_path.open("ab") as log:
            process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        url = f"redis://127.0.0.1:{port}"
        if _wait_for_redis(url=url, process=process):
            return ThrowawayRedis(url=url, process=process, data_dir=data_dir)
        process.kill()
        process.wait()
    log_tail = _tail(log_path)
    shutil.rmtree(data_dir, ignore_errors=True)
    raise RuntimeError(f"redis-server did not start; log tail:\n{log_tail}")


def _wait_for_redis(*, url: str, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False  # exited: most likely the port was taken meanwhile
        if redis_answers(url=url):
            return True
        time.sleep(0.05)
    return False


@contextmanager
def redis_server(*, env_url: str | None) -> Iterator[str]:
    """Yield the URL of a Redis server, starting a throwaway one if needed.

    Args:
        env_url: MEDIAQ_TEST_REDIS_URL, if set; then it is the only server tried.

    Raises:
        ServiceUnavailable: nothing answers and no redis-server binary to start.
    """
    if env_url:
        if not redis_answers(url=env_url):
            raise ServiceUnavailable(
                f"Redis at MEDIAQ_TEST_REDIS_URL ({redact(env_url)}) does not answer PING"
            )
        yield env_url
        return
    if redis_answers(url=LOCAL_REDIS_URL):
        yield LOCAL_REDIS_URL
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceUnavailable(
            "no Redis: set MEDIAQ_TEST_REDIS_URL, run one on 127.0.0.1:6379, "
            "or install redis-server to start a throwaway one"
        )
    server = start_throwaway_redis(binary=binary)
    try:
        yield server.url
    finally:
        server.stop()


# --- S3 API -------------------------------------------------------------------------------------


@contextmanager
def s3_server() -> Iterator[str]:
    """Run moto's S3 server in a thread on a free port of 127.0.0.1; yield its endpoint URL.

    Port 0 lets the OS pick the port at bind time, so there is no race with other processes.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
