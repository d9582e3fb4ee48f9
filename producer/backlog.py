"""Messages waiting in the broker's queues: how the reconciler tells a slow queue from a lost one.

A stage run `queued` in the database for a while has either lost its message (a flushed Redis, a
worker killed holding it) or is simply waiting behind a backlog. Re-sending every such stage on
every pass floods a busy queue with duplicates that each cost a worker a claim attempt, and the
flood grows with the backlog. While a queue still holds messages, workers are getting through
it, so the reconciler waits much longer before it assumes a message was lost.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from celery import Celery

log = logging.getLogger(__name__)

# how much longer a queued stage may wait while its broker still holds a backlog
BACKLOG_FACTOR = 10


def waiting_messages(*, app: Celery, queues: Iterable[str]) -> dict[str, int]:
    """Messages waiting in each queue (not those a worker has taken); {} if the broker is down.

    Works for every kombu transport (Redis sums its priority lists, the embedded one counts
    its files). One connection attempt only: the reconciler must not hang on a dead broker.
    """
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
            channel = connection.default_channel
            return {name: int(channel.queue_declare(queue=name).message_count) for name in queues}
    except Exception:  # broker down: the caller re-sends as if every queue were empty
        log.warning("could not read the broker's queue lengths", exc_info=True)
        return {}


def requeue_after_s(*, base_s: float, waiting: dict[str, int]) -> float:
    """How long a stage may stay `queued` before it is re-sent, given the queues' backlog."""
    return base_s * BACKLOG_FACTOR if any(waiting.values()) else base_s
