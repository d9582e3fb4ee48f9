"""The Redis transport's late acks: a finished stage must not take its worker down."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import redis
from kombu import Connection, Message, Queue
from kombu.common import ignore_errors

from producer.broker import make_celery
from producer.redis_broker import TRANSPORT
from producer.settings import Settings

pytestmark = pytest.mark.redis

QUEUE = "mediaq-test-late-ack"


def take_one(connection: Connection) -> Message:
    """Publish a message and take it without acknowledging it (it sits in kombu's unacked)."""
    queue = Queue(QUEUE)
    with connection.Producer() as producer:
        producer.publish({"stage": 1}, routing_key=QUEUE, declare=[queue])
    return connection.SimpleQueue(queue).get(timeout=5)


def unacked(redis_url: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.hlen("unacked"))
    finally:
        client.close()


def cut_connection(message: Message) -> Connection:
    """What Celery leaves when Redis drops: the transport's client cleared, clients discarded.
    Returns the client, for `mend`."""
    channel = message.channel
    client = channel.connection.client
    channel.connection.client = None
    channel._pool = None
    channel.__dict__.pop("client", None)
    return client


def mend(message: Message, client: Connection) -> None:
    """Undo `cut_connection`, so the connection closes cleanly at the test's end (stock kombu
    would otherwise print the same AttributeError from an exit handler)."""
    message.channel.connection.client = client


@pytest.fixture
def connection(redis_url: str) -> Iterator[Connection]:
    made = Connection(redis_url, transport=TRANSPORT)
    yield made
    with contextlib.suppress(AttributeError):  # a connection the test cut cannot close cleanly
        made.release()


def test_an_ack_after_the_connection_dropped_is_dropped_not_raised(
    connection: Connection, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = unacked(redis_url)
    message = take_one(connection)
    assert unacked(redis_url) == before + 1
    cut_connection(message)
    message.ack()
    assert "dropped the ack" in caplog.text
    # the message stays where Redis gives it back after the visibility timeout
    assert unacked(redis_url) == before + 1


def test_a_live_connection_acks_as_usual(connection: Connection, redis_url: str) -> None:
    before = unacked(redis_url)
    message = take_one(connection)
    assert unacked(redis_url) == before + 1
    message.ack()
    assert message.acknowledged and unacked(redis_url) == before


def test_stock_kombu_fails_that_ack(redis_url: str) -> None:
    # the reason for the subclass: kombu's own QoS raises where ours drops the ack, and Celery
    # treats an AttributeError as unrecoverable
    from kombu.transport import redis as stock

    connection = Connection(redis_url)
    message = take_one(connection)
    assert type(message.channel.qos) is stock.QoS
    client = cut_connection(message)
    with pytest.raises(AttributeError):
        message.ack()
    mend(message, client)
    message.ack()
    connection.release()


def test_celery_uses_it_for_redis_urls_only(redis_url: str, embedded_settings: Settings) -> None:
    on_redis = make_celery(embedded_settings.model_copy(update={"broker_url": redis_url}))
    assert on_redis.conf.broker_transport == TRANSPORT
    assert make_celery(embedded_settings).conf.broker_transport != TRANSPORT


def test_closing_a_cut_connection_is_a_connection_error_not_a_crash(
    connection: Connection, redis_url: str
) -> None:
    # Celery closes the broken connection with kombu's ignore_errors, which swallows
    # connection errors only; closing restores the unacked messages through a new client
    message = take_one(connection)
    cut_connection(message)
    with pytest.raises(redis.exceptions.ConnectionError):
        message.channel.qos.restore_unacked()
    ignore_errors(connection, connection.close)  # must not raise


def test_stock_kombu_crashes_closing_it(redis_url: str) -> None:
    connection = Connection(redis_url)
    message = take_one(connection)
    client = cut_connection(message)
    with pytest.raises(AttributeError):
        message.channel.qos.restore_unacked()
    mend(message, client)
    message.ack()
    connection.release()


def test_a_clean_close_still_gives_unacked_messages_back(redis_url: str) -> None:
    # a warm shutdown closes the channel with Redis up: what the worker had taken but not
    # finished goes back to the queue at once, as with stock kombu
    before = unacked(redis_url)
    connection = Connection(redis_url, transport=TRANSPORT)
    take_one(connection)
    assert unacked(redis_url) == before + 1
    connection.release()
    assert unacked(redis_url) == before
    with Connection(redis_url, transport=TRANSPORT) as again, again.SimpleQueue(QUEUE) as simple:
        message = simple.get(timeout=5)
        assert message.payload == {"stage": 1}
        message.ack()
