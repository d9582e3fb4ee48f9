"""The test service fixtures give working servers, and the throwaway fallbacks start and stop."""

from __future__ import annotations

import shutil

import psycopg
import pytest
import redis

from tests import services


def database_exists(*, admin_url: str, name: str) -> bool:
    with psycopg.connect(services.libpq_url(admin_url)) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


@pytest.mark.postgres
def test_postgres_url_is_a_database_of_this_test_session(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql+psycopg://")
    with psycopg.connect(services.libpq_url(postgres_url)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        database = conn.execute("SELECT current_database()").fetchone()
    assert database is not None and database[0].startswith("mediaq_test_")


@pytest.mark.redis
def test_redis_url_answers_ping_on_the_test_db(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.ping()
        # db 15 unless MEDIAQ_TEST_REDIS_URL names one; never the implicit default db 0.
        assert redis_url.endswith(f"/{client.connection_pool.connection_kwargs['db']}")
    finally:
        client.close()


@pytest.mark.redis
def test_a_redis_database_with_another_client_connected_is_not_chosen(redis_url: str) -> None:
    # Given a stranger (an orphaned worker, say) connected to database 7
    server = redis_url.rsplit("/", 1)[0]
    stranger = redis.Redis.from_url(f"{server}/7")
    try:
        stranger.ping()
        # Then database 7 is not handed out
        assert services.idle_redis_db(server, preferred=7) != 7
    finally:
        stranger.close()
    # And once the stranger is gone, database 7 is idle again
    assert services.idle_redis_db(server, preferred=7) == 7


@pytest.mark.redis
def test_throwaway_redis_server_starts_and_stops() -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        services.skip_or_fail("no redis-server binary to start a throwaway Redis from")

    server = services.start_throwaway_redis(binary=binary)
    try:
        assert server.url != services.LOCAL_REDIS_URL
        assert services.redis_answers(url=server.url)
    finally:
        server.stop()

    assert not services.redis_answers(url=server.url)
    assert not server.data_dir.exists()


@pytest.mark.postgres
def test_throwaway_postgres_cluster_serves_a_fresh_database_and_stops() -> None:
    bin_dir = services.find_postgres_bin_dir()
    if bin_dir is None:
        services.skip_or_fail("no initdb/pg_ctl binaries to start a throwaway PostgreSQL from")

    server = services.start_throwaway_postgres(bin_dir=bin_dir)
    try:
        with services.fresh_database(admin_url=server.url) as url:
            name = url.rsplit("/", 1)[1]
            assert services.postgres_answers(url=url)
            assert database_exists(admin_url=server.url, name=name)
        assert not database_exists(admin_url=server.url, name=name)
    finally:
        server.stop()

    assert not services.postgres_answers(url=server.url)
    assert not server.base_dir.exists()


def test_a_dead_env_url_is_unavailable_not_replaced() -> None:
    port = services.find_free_port()
    with (
        pytest.raises(services.ServiceUnavailable, match="MEDIAQ_TEST_REDIS_URL"),
        services.redis_server(env_url=f"redis://:secret@127.0.0.1:{port}/0"),
    ):
        pass
    with (
        pytest.raises(services.ServiceUnavailable, match=r"postgres:\*\*\*@"),
        services.postgres_server(env_url=f"postgresql://postgres:pw@127.0.0.1:{port}/x"),
    ):
        pass


def test_missing_service_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Redis"):
        services.skip_or_fail("no Redis")


def test_missing_service_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no Redis.*CI=true"):
        services.skip_or_fail("no Redis")


def test_url_helpers() -> None:
    assert services.redact("redis://:pw@h:1/2?x=y") == "redis://:***@h:1/2"
    assert services.with_redis_db("redis://h:1", db=15) == "redis://h:1/15"
    assert services.with_redis_db("redis://h:1/3", db=15) == "redis://h:1/3"
    assert services.libpq_url("postgresql+psycopg://u@h/d") == "postgresql://u@h/d"
    assert services.sqlalchemy_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert services.with_database("postgresql://u@h:5/old", "new") == "postgresql://u@h:5/new"
