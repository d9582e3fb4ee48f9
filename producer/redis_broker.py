"""kombu's Redis transport, with acknowledgements that survive a lost connection.

When Redis goes away, Celery drops the broker connection (kombu clears the transport's
`client`) and reconnects. A stage that finishes meanwhile in a pool child acknowledges its
message on the old channel, and stock kombu 5.x then fails with AttributeError inside
`QoS.ack` (it rebuilds a connection pool from the cleared client). Celery counts that error as
unrecoverable and the worker process exits: seen in the Redis-restart fault test.

Here an ack or reject on a channel whose connection is gone is dropped with a warning. Its
message stays in Redis's unacked set (or was already restored), so Redis hands it out again
after the visibility timeout; the stage already committed its result, and the lease check in
workers/runner.py makes that redelivery a no-op.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis

log = logging.getLogger(__name__)
LATE = "dropped the %s of %s: the broker connection closed first; the message comes back"


def is_detached(channel: Any) -> bool:
    """Whether the channel's connection was closed under it (so Redis cannot be reached)."""
    transport = getattr(channel, "connection", None)
    return bool(channel.closed) or transport is None or transport.client is None


class QoS(redis.QoS):  # type: ignore[misc]
    def ack(self, delivery_tag: Any) -> None:
        if is_detached(self.channel):
            log.warning("dropped the ack of %s: the broker connection closed first", delivery_tag)
            return
        super().ack(delivery_tag)

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        if is_detached(self.channel):
            log.warning(
                "dropped the reject of %s: the broker connection closed first", delivery_tag
            )
            return
        super().reject(delivery_tag, requeue=requeue)


class Channel(redis.Channel):  # type: ignore[misc]
    QoS = QoS


class Transport(redis.Transport):  # type: ignore[misc]
    Channel = Channel


# for Celery's broker_transport setting (producer/broker.py), used with redis:// URLs
TRANSPORT = f"{__name__}:Transport"
