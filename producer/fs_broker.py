"""The embedded broker: kombu's filesystem transport with atomic writes and atomic claims.

kombu's own filesystem channel creates a message file and then writes it, and a consumer may
move and read the file in between, find it empty, and die on the JSON error (kombu #1551). Here a
message is written under a temporary name and renamed into place, and a consumer claims a file by
renaming it into a private folder on the same file system, so exactly one consumer reads each
complete message.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections import deque
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.json import dumps, loads

SCHEME = "mediaqfs"
# an empty queue looks at the folder again after this long; the worker polls every 20 ms
LIST_EVERY_S = 0.01
_SEQUENCE = itertools.count()


class AtomicChannel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        # sortable: time, then this process's sequence (several messages share a millisecond)
        name = f"{round(monotonic() * 1000):015d}_{next(_SEQUENCE):012d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f"partial-{uuid.uuid4()}")
        try:
            with open(partial, "wb") as handle:
                handle.write(dumps(payload).encode("utf-8"))
            os.replace(partial, final)
        except OSError as error:
            raise ChannelError(f"cannot add a message to {self.data_folder_out!r}") from error

    def _get(self, queue: str) -> Any:
        claimed_dir = os.path.join(os.path.dirname(self.data_folder_in.rstrip("/")), "claimed")
        os.makedirs(claimed_dir, exist_ok=True)
        names = self._waiting(queue)
        while names:
            name = names.popleft()
            claimed = os.path.join(claimed_dir, f"{os.getpid()}-{name}")
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            with open(claimed, "rb") as handle:
                payload = handle.read()
            os.remove(claimed)
            return loads(payload.decode("utf-8"))
        raise filesystem.Empty()

    def _waiting(self, queue: str) -> deque[str]:
        """The queue's message files in arrival order, from the folder's last listing.

        Listing and sorting the folder for every message made a backlog of n messages cost
        O(n^2 log n), and every poll of an empty queue listed the whole backlog too. The listing
        is kept and consumed in order; the folder is listed again when this queue's part of it
        is used up, at most once per LIST_EVERY_S (files named in a listing may have been taken
        by another consumer meanwhile: their rename fails and they are skipped).
        """
        pending = getattr(self, "_pending", None)
        if pending is None:
            pending = self._pending = {}
            self._listed_at = float("-inf")
        names = pending.setdefault(queue, deque())
        if not names and monotonic() - self._listed_at >= LIST_EVERY_S:
            self._listed_at = monotonic()
            by_queue: dict[str, deque[str]] = {}
            for name in sorted(os.listdir(self.data_folder_in)):
                stem, dot, rest = name.partition(".")
                if dot and rest.endswith(".msg"):
                    by_queue.setdefault(rest[: -len(".msg")], deque()).append(name)
            pending.clear()
            pending.update(by_queue)
            names = pending.setdefault(queue, deque())
        return names


class Transport(filesystem.Transport):
    Channel = AtomicChannel
    driver_name = SCHEME


TRANSPORT_ALIASES[SCHEME] = f"{__name__}:Transport"
