"""kombu's Redis transport, with acknowledgements that survive a lost connection.

When Redis goes away, Celery drops the broker connection (kombu clears the transport's
`client`) and reconnects. Two things then touch the old channel: a stage that finishes in a pool
child acknowledges its message, and closing the channel restores its unacknowledged messages.
Both build a new Redis client from the cleared one, and stock kombu 5.x fails there with
AttributeError, which Celery counts as unrecoverable: the worker process exits (seen twice in
the Redis-restart fault test, once on each path).

Here that case raises a Redis ConnectionError instead, which kombu and Celery treat as the
broker being away (logged, then reconnect), and an ack or reject on such a channel is dropped
with a warning. The message stays in Redis's unacked set, so Redis hands it out again after the
visibility timeout; the stage already committed its result, and the lease check in
workers/runner.py makes that redelivery a no-op. (If Redis lost its data, the reconciler
re-sends whatever had not finished.)
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis
from redis.exceptions import ConnectionError  # noqa: A004 - the one kombu treats as recoverable

log = logging.getLogger(__name__)
LATE = "dropped the %s of %s: the broker connection was lost first; the message comes back"


def is_detached(channel: Any) -> bool:
    """Whether the channel's connection was dropped under it (so Redis cannot be reached).

    Not merely closed: a clean close (a warm shutdown) restores the unacked messages through a
    new client, with the transport still connected, and must keep doing so.
    """
    transport = getattr(channel, "connection", None)
    return transport is None or transport.client is None


class QoS(redis.QoS):  # type: ignore[misc]
    def ack(self, delivery_tag: Any) -> None:
        if is_detached(self.channel):
            log.warning(LATE, "ack", delivery_tag)
            return
        super().ack(delivery_tag)

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        if is_detached(self.channel):
            log.warning(LATE, "reject", delivery_tag)
            return
        super().reject(delivery_tag, requeue=requeue)


class Channel(redis.Channel):  # type: ignore[misc]
    QoS = QoS

    def _connparams(self, asynchronous: bool = False) -> Any:
        # every new Redis client starts here; with the transport's client cleared, stock kombu
        # fails with AttributeError (fatal to Celery) where a connection error (which Celery
        # and kombu handle by reconnecting) is the truth: restoring the unacked messages on
        # close takes this path too
        if is_detached(self):
            raise ConnectionError("the broker connection was closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(redis.Transport):  # type: ignore[misc]
    Channel = Channel


# for Celery's broker_transport setting (producer/broker.py), used with redis:// URLs
TRANSPORT = f"{__name__}:Transport"
