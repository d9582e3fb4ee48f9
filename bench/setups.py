"""The two setups every figure runs on: embedded (SQLite, filesystem broker) and PostgreSQL + Redis.

A setup is a fresh data folder plus, for production, a fresh PostgreSQL database
`mediaq_bench_<hex>` (dropped at the end) and a Redis database (flushed at start and end). It also
knows how to count and purge the stage messages waiting in its broker.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from producer.broker import QUEUES

EMBEDDED = "embedded"
PRODUCTION = "postgres+redis"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
CONNECT_TIMEOUT_S = 2
SETUP_LABELS = {
    EMBEDDED: "embedded: SQLite, filesystem broker",
    PRODUCTION: "PostgreSQL 127.0.0.1 + Redis 127.0.0.1",
}


class SetupUnavailable(Exception):
    """A service of the setup does not answer; the message says which and where."""


@dataclass
class Setup:
    """Where one bench run keeps its data; `env` makes a child process use exactly that."""

    name: str
    data_dir: Path
    database_url: str
    broker_url: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return SETUP_LABELS[self.name]

    @property
    def is_embedded(self) -> bool:
        return self.name == EMBEDDED

    def count_messages(self) -> int:
        """Stage messages waiting in the broker (published, not yet consumed)."""
        if self.is_embedded:
            return sum(1 for _ in _message_folder(self).glob("*.msg"))
        client = _redis(self.broker_url)
        try:
            return sum(int(client.llen(key)) for key in _redis_queue_keys(client))
        finally:
            client.close()

    def purge_messages(self) -> None:
        """Drop waiting stage messages, keeping the broker's queue bindings."""
        if self.is_embedded:
            for path in _message_folder(self).glob("*.msg"):
                path.unlink(missing_ok=True)
            return
        client = _redis(self.broker_url)
        try:
            keys = _redis_queue_keys(client)
            if keys:
                client.delete(*keys)
        finally:
            client.close()


def _message_folder(setup: Setup) -> Path:
    return setup.data_dir / "broker" / "messages"


def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S)


def _redis_queue_keys(client: Any) -> list[bytes]:
    # kombu's Redis transport keeps one list per queue and priority step: "cpu", "cpu:3", ...
    keys: list[bytes] = []
    for queue in QUEUES:
        keys.extend(client.keys(queue))
        keys.extend(client.keys(f"{queue}:*"))
    return keys


def _base_env(data_dir: Path) -> dict[str, str]:
    # One key drives the whole load, so the per-key buckets are set far above it: the figures
    # include the limiter's per-request write but measure the API, not 429 answers.
    return {
        "MEDIAQ_DATA_DIR": str(data_dir),
        "MEDIAQ_DATABASE_URL": "",
        "MEDIAQ_BROKER_URL": "",
        "MEDIAQ_STORAGE_URL": "",
        "MEDIAQ_SUBMIT_RATE_PER_S": "1000000",
        "MEDIAQ_SUBMIT_BURST": "1000000",
        "MEDIAQ_READ_RATE_PER_S": "1000000",
        "MEDIAQ_READ_BURST": "1000000",
        "MEDIAQ_MAX_UNFINISHED_JOBS": "100000000",
    }


@contextmanager
def embedded_setup() -> Iterator[Setup]:
    """A fresh data folder: SQLite file, filesystem broker and object folder inside it."""
    data_dir = Path(tempfile.mkdtemp(prefix="mediaq-bench-"))
    try:
        yield Setup(
            name=EMBEDDED,
            data_dir=data_dir,
            database_url=f"sqlite:///{data_dir / 'mediaq.db'}",
            broker_url="filesystem://localhost/",
            env=_base_env(data_dir),
        )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def check_production(*, postgres_url: str, redis_url: str) -> str | None:
    """None when PostgreSQL and Redis answer, else why not (for the table notes)."""
    import psycopg
    import redis

    try:
        with psycopg.connect(_libpq(postgres_url), connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return f"PostgreSQL at {_redact(postgres_url)} does not answer ({type(error).__name__})"
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=CONNECT_TIMEOUT_S)
    try:
        client.ping()
    except redis.RedisError as error:
        return f"Redis at {_redact(redis_url)} does not answer ({type(error).__name__})"
    finally:
        client.close()
    return None


@contextmanager
def production_setup(*, postgres_url: str, redis_url: str) -> Iterator[Setup]:
    """A fresh PostgreSQL database and a flushed Redis database; both cleaned up at the end.

    Raises:
        SetupUnavailable: PostgreSQL or Redis does not answer.
    """
    problem = check_production(postgres_url=postgres_url, redis_url=redis_url)
    if problem is not None:
        raise SetupUnavailable(problem)
    data_dir = Path(tempfile.mkdtemp(prefix="mediaq-bench-"))
    name = f"mediaq_bench_{secrets.token_hex(6)}"
    _admin(postgres_url, f'CREATE DATABASE "{name}"')
    _flush_redis(redis_url)
    database_url = urlsplit(postgres_url)._replace(path=f"/{name}").geturl()
    env = _base_env(data_dir)
    env.update(MEDIAQ_DATABASE_URL=database_url, MEDIAQ_BROKER_URL=redis_url)
    try:
        yield Setup(
            name=PRODUCTION,
            data_dir=data_dir,
            database_url=database_url,
            broker_url=redis_url,
            env=env,
        )
    finally:
        try:
            # FORCE ends connections a killed server may have left behind
            _admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            _flush_redis(redis_url)
            shutil.rmtree(data_dir, ignore_errors=True)


def _admin(postgres_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(
        _libpq(postgres_url), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
    ) as conn:
        conn.execute(statement.encode())


def _flush_redis(url: str) -> None:
    """FLUSHDB on the URL's database only; other databases on the server are not ours."""
    client = _redis(url)
    try:
        client.flushdb()
    finally:
        client.close()


def _libpq(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
