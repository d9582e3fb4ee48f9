"""The embedded broker: kombu's filesystem transport with atomic writes and atomic claims.

kombu's own filesystem channel creates a message file and then writes it, and a consumer may
move and read the file in between, find it empty, and die on the JSON error (kombu #1551). Here a
message is written under a temporary name and renamed into place, and a consumer claims a file by
renaming it into a private folder on the same file system, so exactly one consumer reads each
complete message.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.json import dumps, loads

SCHEME = "mediaqfs"


class AtomicChannel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f"partial-{uuid.uuid4()}")
        try:
            with open(partial, "wb") as handle:
                handle.write(dumps(payload).encode("utf-8"))
            os.replace(partial, final)
        except OSError as error:
            raise ChannelError(f"cannot add a message to {self.data_folder_out!r}") from error

    def _get(self, queue: str) -> Any:
        suffix = f".{queue}.msg"
        claimed_dir = os.path.join(os.path.dirname(self.data_folder_in.rstrip("/")), "claimed")
        os.makedirs(claimed_dir, exist_ok=True)
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != suffix[1:]:
                continue
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


class Transport(filesystem.Transport):
    Channel = AtomicChannel
    driver_name = SCHEME


TRANSPORT_ALIASES[SCHEME] = f"{__name__}:Transport"
