"""Database engine and sessions. SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def json_text(value: Any) -> str:
    """JSON columns' serializer: orjson is several times faster than the json module, which
    matters when a 10,000-item batch writes about 90,000 JSON values in one transaction."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")


def make_engine(url: str, *, is_read_only: bool = False) -> Engine:
    """Create an engine; for SQLite enable WAL and, for writers, take the write lock at BEGIN.

    SQLite is shared by the API and several worker processes. A deferred transaction that
    reads and then writes can fail with "database is locked" when another writer got in
    between, so writing transactions start with BEGIN IMMEDIATE and wait for the lock instead.
    Read-only engines keep deferred transactions so readers never wait for writers (WAL).
    """
    if url.startswith("sqlite"):
        return _make_sqlite_engine(url, is_read_only=is_read_only)
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, json_serializer=json_text
    )


def _make_sqlite_engine(url: str, *, is_read_only: bool) -> Engine:
    database = url.split("///", 1)[-1]
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": 60, "check_same_thread": False},
        json_serializer=json_text,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the begin hook below emit BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN" if is_read_only else "BEGIN IMMEDIATE")

    return engine


class Database:
    """An engine plus a session factory; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        if self.engine.dialect.name == "sqlite":
            self.read_engine = make_engine(url, is_read_only=True)
        else:
            self.read_engine = self.engine
        self.read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for queries only; its transaction is rolled back at the end."""
        with self.read_sessions() as session:
            yield session

    def refresh_planner_stats(self, *table_names: str) -> None:
        """ANALYZE the tables on PostgreSQL (a no-op on SQLite).

        After a large batch lands, the planner's statistics still describe the tables as they
        were: it then scans instead of using the job and stage-run indexes until autovacuum
        analyses them, up to a minute later, which is when dashboards poll hardest.
        """
        if self.is_sqlite:
            return
        with self.engine.connect() as connection:
            for name in table_names:
                connection.exec_driver_sql(f'ANALYZE "{name}"')
            connection.commit()

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()
