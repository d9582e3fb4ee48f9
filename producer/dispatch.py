"""After commit: send ready stage runs to the broker by task name. Never imports workers."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from celery import Celery

from producer.broker import RUN_STAGE_TASK, broker_priority
from producer.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageMessage:
    stage_run_id: str
    queue: str
    priority: int
    countdown_s: float = 0.0


def send_stage_runs(
    *,
    app: Celery,
    settings: Settings,
    messages: Iterable[StageMessage],
    declare_queues: bool = False,
) -> int:
    """Publish one message per stage run over a single broker connection.

    A failure to publish is logged, not raised: the stage stays `queued` in the database and
    the reconciler sends it again.

    Args:
        declare_queues: declare the target queues first (the reconciler does): a Redis that
            was flushed has lost kombu's exchange-to-queue bindings, and a message published
            before a worker declares them again is routed nowhere.

    Returns:
        How many messages were published.
    """
    messages = list(messages)
    sent = 0
    try:
        with app.producer_or_acquire() as producer:
            if declare_queues:
                for name in sorted({message.queue for message in messages}):
                    app.amqp.queues[name].bind(producer.channel).declare()
            for message in messages:
                app.send_task(
                    RUN_STAGE_TASK,
                    args=[message.stage_run_id],
                    # the stage run id, so a cancel can revoke it without storing task ids
                    task_id=message.stage_run_id,
                    queue=message.queue,
                    priority=broker_priority(message.priority, settings=settings),
                    countdown=message.countdown_s or None,
                    producer=producer,
                )
                sent += 1
    except Exception:  # broker down: the reconciler re-sends what is still queued
        log.exception("could not publish stage runs; %d sent, the reconciler will resend", sent)
    return sent
