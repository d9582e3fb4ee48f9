"""The Celery app configuration shared by the API (which only sends) and the workers.

The broker carries stage-run ids only; the database stays the source of truth.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue

from producer import fs_broker  # noqa: F401 - registers the embedded transport
from producer.settings import Settings

RUN_STAGE_TASK = "mediaq.run_stage"
QUEUES = ("cpu", "gpu")


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings for long media tasks: late ack, requeue on a lost worker, prefetch 1."""
    config: dict[str, Any] = {
        "broker_url": settings.resolved_broker_url(),
        "broker_connection_retry_on_startup": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
        "task_default_queue": "cpu",
        "task_queues": [Queue(name) for name in QUEUES],
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_hijack_root_logger": False,
        # task events let Flower and `celery events` watch a production deployment; Redis
        # fans them out over PUBLISH, so with nobody listening they cost one command each
        "worker_send_task_events": settings.celery_events and not settings.is_embedded_broker,
        "task_send_sent_event": settings.celery_events and not settings.is_embedded_broker,
    }
    if settings.is_embedded_broker:
        config["broker_transport_options"] = _filesystem_options(settings)
        # the filesystem transport has no fanout for remote control; cancellation goes
        # through the database, which the runner checks
        config["worker_enable_remote_control"] = False
    else:
        config["broker_transport_options"] = {
            "priority_steps": list(range(10)),
            "sep": ":",
            "queue_order_strategy": "priority",
            # longer than any stage: a stage lease in the database handles redelivery
            "visibility_timeout": 4 * 3600,
        }
    return config


def _filesystem_options(settings: Settings) -> dict[str, Any]:
    folder = settings.broker_folder / "messages"
    control = settings.broker_folder / "control"
    folder.mkdir(parents=True, exist_ok=True)
    control.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(control),
        "store_processed": False,
        # the transport polls its folder; the default 1 s would add a second to every stage
        "polling_interval": 0.05,
    }


def make_celery(settings: Settings, *, name: str = "mediaq") -> Celery:
    app = Celery(name)
    app.conf.update(celery_config(settings))
    return app


def broker_priority(priority: int, *, settings: Settings) -> int:
    """Map API priority (9 most urgent) to the broker's: Redis pops priority 0 first."""
    return 9 - priority
