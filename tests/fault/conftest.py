"""Fixtures of the fault-injection suite: a fresh database per test, restartable servers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests import services
from tests.fault.servers import PostgresCluster, RedisServer


@pytest.fixture
def fault_database_url(postgres_url: str) -> Iterator[str]:
    """An empty database of its own on the shared server, so the audit sees only this test."""
    with services.fresh_database(admin_url=postgres_url) as url:
        yield url


@pytest.fixture
def redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        services.skip_or_fail("no redis-server binary: the fault tests restart their own Redis")
    return binary


@pytest.fixture
def fault_redis(redis_binary: str) -> Iterator[RedisServer]:
    """A redis-server of this test alone, with the append-only file on (a queue's setting)."""
    server = RedisServer(binary=redis_binary, is_persistent=True)
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def fault_postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of this test alone, so stopping it disturbs no other test."""
    bin_dir = services.find_postgres_bin_dir()
    if bin_dir is None:
        services.skip_or_fail(
            "no PostgreSQL binaries (initdb, pg_ctl) to start a cluster to restart"
        )
    cluster = PostgresCluster(services.start_throwaway_postgres(bin_dir=bin_dir))
    try:
        yield cluster
    finally:
        cluster.close()
