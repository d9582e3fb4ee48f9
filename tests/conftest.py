"""Shared pytest fixtures. Keep this module import-light: heavy imports belong inside fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack

import pytest

from tests import services

# --- Service fixtures: PostgreSQL, Redis, S3 API -----------------------------------------------
# Helpers live in tests/services.py. A missing server skips the test locally and fails it in CI
# (env CI=true). Each fixture finds its server once per session.


def _enter_service(stack: ExitStack, server: AbstractContextManager[str]) -> str:
    """Enter a services.*_server() context; skip or fail the test if there is no server."""
    try:
        return stack.enter_context(server)
    except services.ServiceUnavailable as exc:
        message = str(exc)
    # Outside the except block, so a CI failure does not print the exception twice.
    services.skip_or_fail(message)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL (`postgresql+psycopg://`) of a new empty database, dropped at session end.

    The server is MEDIAQ_TEST_POSTGRES_URL, else 127.0.0.1:5432, else a throwaway cluster.
    """
    with ExitStack() as stack:
        env_url = os.environ.get("MEDIAQ_TEST_POSTGRES_URL")
        admin_url = _enter_service(stack, services.postgres_server(env_url=env_url))
        yield stack.enter_context(services.fresh_database(admin_url=admin_url))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of an idle Redis database (15 when idle), flushed before and after.

    The server is MEDIAQ_TEST_REDIS_URL, else 127.0.0.1:6379, else a throwaway redis-server.
    A database named in MEDIAQ_TEST_REDIS_URL is used as it is.
    """
    with ExitStack() as stack:
        env_url = os.environ.get("MEDIAQ_TEST_REDIS_URL")
        server_url = _enter_service(stack, services.redis_server(env_url=env_url))
        db = services.idle_redis_db(server_url, preferred=services.REDIS_TEST_DB)
        url = services.with_redis_db(server_url, db=db)
        services.flush_redis(url=url)
        try:
            yield url
        finally:
            services.flush_redis(url=url)


@pytest.fixture(scope="session")
def s3_endpoint_url() -> Iterator[str]:
    """Endpoint URL of moto's S3 server, in-process on a free port; any credentials work."""
    with services.s3_server() as endpoint_url:
        yield endpoint_url


# --- End of service fixtures ---------------------------------------------------------------------


# --- Application fixtures ------------------------------------------------------------------------


@pytest.fixture
def embedded_settings(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Settings for the embedded mode in a fresh data folder, migrated."""
    from producer.migrate import upgrade
    from producer.settings import Settings

    for name in ("MEDIAQ_DATABASE_URL", "MEDIAQ_BROKER_URL", "MEDIAQ_STORAGE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.resolved_database_url())
    return settings


def make_key(
    settings, *, tenant: str = "default", scopes: tuple[str, ...] = ("submit", "read")
) -> str:  # type: ignore[no-untyped-def]
    """A new API key for `tenant` in the settings' database."""
    from producer.db import Database
    from producer.keys import create_key

    db = Database(settings.resolved_database_url())
    try:
        with db.session() as session:
            _, key = create_key(
                session=session,
                tenant_id=tenant,
                scopes=list(scopes),
                name="test",
                secret=settings.resolved_secret_key(),
            )
    finally:
        db.dispose()
    return key


@pytest.fixture
def api_client(embedded_settings):  # type: ignore[no-untyped-def]
    """A TestClient of the API on the embedded settings, authenticated as tenant "default"."""
    from fastapi.testclient import TestClient

    from producer.main import create_app

    key = make_key(embedded_settings)
    with TestClient(
        create_app(embedded_settings), headers={"Authorization": f"Bearer {key}"}
    ) as client:
        yield client
