"""Cooperative cancellation: long media loops ask whether their stage run is still wanted.

The runner binds the heartbeat's flag to the running thread (a context variable, so the
threads of a GPU worker each see their own stage); frame loops, ffmpeg waits and TTS chunks
call `check_canceled()`, which raises `StageCanceled` once the heartbeat has seen the stage
canceled, expired or taken over. Outside a stage run it never raises.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_flag: ContextVar[threading.Event | None] = ContextVar("mediaq_stage_canceled", default=None)


class StageCanceled(Exception):
    """The stage run was canceled, expired or lost its lease: stop and publish nothing."""


@contextmanager
def cancel_scope(flag: threading.Event) -> Iterator[None]:
    """Make `flag` the cancellation flag of the code run inside, in this thread."""
    token = _flag.set(flag)
    try:
        yield
    finally:
        _flag.reset(token)


def is_canceled() -> bool:
    flag = _flag.get()
    return flag is not None and flag.is_set()


def check_canceled() -> None:
    """Raise StageCanceled when the current stage run is no longer wanted.

    Raises:
        StageCanceled: the heartbeat found the stage canceled, expired or taken over.
    """
    if is_canceled():
        raise StageCanceled("the stage run was canceled, expired or lost its lease")
