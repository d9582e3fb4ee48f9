"""Per-process worker resources: settings, database, object store, engines, broker app."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field

from celery import Celery

from producer.broker import make_celery
from producer.db import Database
from producer.objectstore import ObjectStore, open_object_store
from producer.settings import Settings, get_settings
from workers.registry import EnginePool


@dataclass
class WorkerContext:
    settings: Settings
    db: Database
    store: ObjectStore
    app: Celery
    engines: EnginePool = field(default_factory=EnginePool)
    owner: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )

    @classmethod
    def from_settings(cls, settings: Settings, *, app: Celery | None = None) -> WorkerContext:
        return cls(
            settings=settings,
            db=Database(settings.resolved_database_url()),
            store=open_object_store(settings.resolved_storage_url()),
            app=app or make_celery(settings),
        )

    def close(self) -> None:
        self.engines.close()
        self.db.dispose()


_context: WorkerContext | None = None
_context_pid: int | None = None


def get_context(app: Celery | None = None) -> WorkerContext:
    """The context of this process; rebuilt after a fork so no connection is shared."""
    global _context, _context_pid
    if _context is None or _context_pid != os.getpid():
        _context = WorkerContext.from_settings(get_settings(), app=app)
        _context_pid = os.getpid()
    return _context
