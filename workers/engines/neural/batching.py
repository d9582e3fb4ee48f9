"""Dynamic batching in the spirit of Triton's: concurrent requests for one model share a pass.

How a GPU worker uses it. The GPU worker runs Celery with a thread pool
(`celery worker -Q gpu --pool threads --concurrency N`), so up to N stage runs from any jobs
and batches are in flight in one process. The EnginePool gives them all the same loaded engine,
and each neural engine owns one DynamicBatcher. A stage thread calls `run()` / `run_many()` and
blocks; the batcher's single executor thread takes the oldest waiting request, waits up to
`max_wait_ms` for more requests of the same group (same tensor shapes) to arrive, stacks up to
`max_batch_size` of them and runs one forward pass, then hands each caller its own result.

Only the executor thread touches the model, so the GPU sees one stream of large batches instead
of N threads contending for it, and the model needs no locking. A lone request pays at most
`max_wait_ms` of extra latency; a caller that submits many requests at once (the tiles of one
image) fills batches without waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

RequestT = TypeVar("RequestT")
ResultT = TypeVar("ResultT")


@dataclass
class BatchStats:
    """Counts since the batcher started: how many passes ran and how full they were."""

    batches: int = 0
    requests: int = 0
    size_counts: dict[int, int] = field(default_factory=dict)

    @property
    def largest(self) -> int:
        return max(self.size_counts, default=0)

    @property
    def mean_size(self) -> float:
        return self.requests / self.batches if self.batches else 0.0


@dataclass
class _Pending(Generic[RequestT, ResultT]):
    request: RequestT
    group: Hashable
    enqueued_s: float
    future: Future[ResultT]


class BatcherClosedError(RuntimeError):
    """A request was submitted after close()."""


class DynamicBatcher(Generic[RequestT, ResultT]):
    """Collects requests from many threads into batches for one batch function.

    Args:
        run_batch: runs one batch: a list of requests (all of one group, in arrival order) ->
            one result per request, in the same order. Called only from the executor thread.
        max_batch_size: most requests per call of `run_batch`.
        max_wait_ms: how long the oldest waiting request waits for the batch to fill.
        group_key: requests with equal keys can share a batch (e.g. tensor shape); None puts
            every request in one group.
        name: names the executor thread, for logs.
    """

    def __init__(
        self,
        *,
        run_batch: Callable[[list[RequestT]], Sequence[ResultT]],
        max_batch_size: int,
        max_wait_ms: float,
        group_key: Callable[[RequestT], Hashable] | None = None,
        name: str = "batcher",
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        self.max_batch_size = max_batch_size
        self.max_wait_s = max(0.0, max_wait_ms) / 1000
        self._run_batch = run_batch
        self._group_key = group_key or (lambda _request: None)
        self._name = name
        self._pending: list[_Pending[RequestT, ResultT]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._stats = BatchStats()

    def submit(self, request: RequestT) -> Future[ResultT]:
        """Queue one request; the Future resolves to its result or its batch's exception.

        Raises:
            BatcherClosedError: after close().
        """
        future: Future[ResultT] = Future()
        pending = _Pending(request, self._group_key(request), time.monotonic(), future)
        with self._cond:
            if self._closed:
                raise BatcherClosedError(f"{self._name} is closed")
            self._ensure_thread()
            self._pending.append(pending)
            self._cond.notify_all()
        return future

    def run(self, request: RequestT) -> ResultT:
        """Submit one request and wait for its result."""
        return self.submit(request).result()

    def run_many(self, requests: Sequence[RequestT]) -> list[ResultT]:
        """Submit all requests at once (so they fill batches together) and wait for all."""
        futures = [self.submit(request) for request in requests]
        return [future.result() for future in futures]

    def stats(self) -> BatchStats:
        """A copy of the counts so far."""
        with self._cond:
            return BatchStats(
                self._stats.batches, self._stats.requests, dict(self._stats.size_counts)
            )

    def close(self) -> None:
        """Run what is queued, then stop the executor thread. Later submits raise."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _ensure_thread(self) -> None:
        # Started on first use, not in __init__: a thread does not survive a fork, and
        # engines may be constructed before the worker forks.
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._execute(batch)

    def _next_batch(self) -> list[_Pending[RequestT, ResultT]] | None:
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            if not self._pending:
                return None
            first = self._pending[0]
            deadline_s = first.enqueued_s + self.max_wait_s
            while not self._closed and self._count_group(first.group) < self.max_batch_size:
                remaining_s = deadline_s - time.monotonic()
                if remaining_s <= 0:
                    break
                self._cond.wait(remaining_s)
            return self._take_group(first.group)

    def _count_group(self, group: Hashable) -> int:
        return sum(1 for pending in self._pending if pending.group == group)

    def _take_group(self, group: Hashable) -> list[_Pending[RequestT, ResultT]]:
        taken: list[_Pending[RequestT, ResultT]] = []
        kept: list[_Pending[RequestT, ResultT]] = []
        for pending in self._pending:
            if pending.group == group and len(taken) < self.max_batch_size:
                taken.append(pending)
            else:
                kept.append(pending)
        self._pending = kept
        self._stats.batches += 1
        self._stats.requests += len(taken)
        self._stats.size_counts[len(taken)] = self._stats.size_counts.get(len(taken), 0) + 1
        return taken

    def _execute(self, batch: list[_Pending[RequestT, ResultT]]) -> None:
        live = [pending for pending in batch if pending.future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            results = self._run_batch([pending.request for pending in live])
            if len(results) != len(live):
                raise RuntimeError(
                    f"{self._name}: batch function returned {len(results)} results "
                    f"for {len(live)} requests"
                )
        except BaseException as error:  # every caller must be woken, whatever went wrong
            for pending in live:
                pending.future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for pending, result in zip(live, results, strict=True):
            pending.future.set_result(result)
