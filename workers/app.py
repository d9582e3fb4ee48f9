"""The Celery app of the workers: shared broker config plus the stage task."""

from __future__ import annotations

from typing import Any

from celery.signals import setup_logging, worker_process_init, worker_process_shutdown

from producer.broker import make_celery
from producer.settings import get_settings
from workers.registry import check_registry

app = make_celery(get_settings(), name="mediaq-worker")
app.conf.include = ["workers.tasks"]
check_registry()  # an unknown stage or engine fails here, at start, not halfway through a batch


@setup_logging.connect
def _configure_logging(**_: Any) -> None:
    # a receiver here tells Celery to leave logging to us: same format as the API's
    from producer.jsonlog import configure_logging

    settings = get_settings()
    configure_logging(log_format=settings.log_format, level=settings.log_level)


@worker_process_init.connect
def _open_context(**_: Any) -> None:
    from workers.context import get_context

    get_context(app)


@worker_process_shutdown.connect
def _close_context(**_: Any) -> None:
    from workers.context import get_context

    get_context(app).close()
