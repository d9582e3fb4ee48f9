"""Migrations: upgrade -> downgrade -> upgrade on SQLite and PostgreSQL; no drift from tables.py."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from producer.db import make_engine
from producer.migrate import downgrade, upgrade
from schemas.tables import Base

TABLES = {
    "batch",
    "job",
    "stage_run",
    "artifact",
    "provenance",
    "stage_cache",
    "idempotency_record",
    "artifact_owner",
    "api_key",
}


def roundtrip_and_check(url: str) -> None:
    upgrade(url)
    downgrade(url, "base")
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == [], f"tables.py and the migrations differ: {diff}"
    finally:
        engine.dispose()


def test_migrations_roundtrip_on_sqlite_without_drift(tmp_path) -> None:  # type: ignore[no-untyped-def]
    roundtrip_and_check(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_migrations_roundtrip_on_postgresql_without_drift(postgres_url: str) -> None:
    roundtrip_and_check(postgres_url)
