"""The Celery app configuration shared by the API (which only sends) and the workers.

The broker carries stage-run ids only; the database stays the source of truth.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue

from producer import (
    fs_broker,  # noqa: F401 - registers the embedded transport
    redis_broker,
)
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
        if settings.resolved_broker_url().startswith(("redis://", "rediss://")):
            # kombu's Redis transport, with acks that survive a broker restart
            config["broker_transport"] = redis_broker.TRANSPORT
        config["broker_transport_options"] = {
            "priority_steps": list(range(10)),
            "sep": ":",
            "queue_order_strategy": "priority",
            # a redelivered message of a stage still running finds its lease held and is
            # dropped (runner.run_stage), so a stage longer than this still runs once
            "visibility_timeout": settings.broker_visibility_timeout_s,
            # kombu looks for messages past the timeout every interval x throttle seconds
            # (100 s by default): keep that well under the timeout
            "unacked_restore_interval": _restore_interval_s(settings.broker_visibility_timeout_s),
            "unacked_restore_throttle": 1,
        }
    return config


def _restore_interval_s(visibility_timeout_s: float) -> int:
    """Seconds between kombu's sweeps for unacknowledged messages: 1 to 60, a quarter timeout."""
    return int(min(60.0, max(1.0, visibility_timeout_s / 4)))


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
        # the transport polls its folder; the default 1 s would add a second to every job start;
        # 20 ms costs an idle worker about one listdir per queue every 20 ms
        "polling_interval": 0.02,
    }


def make_celery(settings: Settings, *, name: str = "mediaq") -> Celery:
    app = Celery(name)
    app.conf.update(celery_config(settings))
    return app


def broker_priority(priority: int, *, settings: Settings) -> int:
    """Map API priority (9 most urgent) to the broker's: Redis pops priority 0 first."""
    return 9 - priority
