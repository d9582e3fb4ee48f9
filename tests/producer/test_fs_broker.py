"""The embedded file broker: arrival order, no message twice, new messages seen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kombu import Connection, Queue

import producer.fs_broker  # noqa: F401 - registers the transport


def connect(folder: Path) -> Connection:
    messages = folder / "messages"
    messages.mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": str(messages),
        "data_folder_out": str(messages),
        "control_folder": str(folder / "control"),  # else kombu writes ./control
    }
    return Connection("mediaqfs://localhost/", transport_options=options)


def publish(connection: Connection, queue: str, bodies: list[Any]) -> None:
    with connection.Producer() as producer:
        for body in bodies:
            producer.publish(body, routing_key=queue, declare=[Queue(queue)])


def drain(connection: Connection, queue: str) -> list[Any]:
    got = []
    with connection.SimpleQueue(queue) as simple:
        while True:
            try:
                message = simple.get(block=False)
            except simple.Empty:
                return got
            got.append(message.payload)
            message.ack()


def test_messages_come_in_arrival_order_per_queue(tmp_path: Path) -> None:
    with connect(tmp_path) as connection:
        publish(connection, "cpu", [1, 2, 3])
        publish(connection, "gpu", ["a"])
        publish(connection, "cpu", [4, 5])
        assert drain(connection, "cpu") == [1, 2, 3, 4, 5]
        assert drain(connection, "gpu") == ["a"]


def test_a_message_sent_after_the_folder_was_listed_is_still_delivered(tmp_path: Path) -> None:
    with connect(tmp_path) as connection, connection.SimpleQueue("cpu") as simple:
        publish(connection, "cpu", [1, 2])
        first = simple.get(timeout=2)  # lists the folder: 1 and 2
        publish(connection, "cpu", [3])
        rest = [simple.get(timeout=2), simple.get(timeout=2)]
        assert [first.payload] + [m.payload for m in rest] == [1, 2, 3]


def test_two_consumers_never_get_the_same_message(tmp_path: Path) -> None:
    with connect(tmp_path) as one, connect(tmp_path) as two:
        publish(one, "cpu", list(range(40)))
        got: list[int] = []
        with one.SimpleQueue("cpu") as a, two.SimpleQueue("cpu") as b:
            for turn in range(80):
                simple = a if turn % 2 else b
                try:
                    message = simple.get(block=False)
                except simple.Empty:
                    continue
                got.append(message.payload)
                message.ack()
        assert sorted(got) == list(range(40))
