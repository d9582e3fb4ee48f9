"""Dynamic batching: concurrent callers share forward passes and each gets its own result."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from tests.workers.neural.conftest import TinyWeights
from workers.engines.neural.batching import BatcherClosedError, DynamicBatcher


def test_concurrent_requests_share_batches_and_each_gets_its_own_result_in_order(
    tiny_x4: TinyWeights,
) -> None:
    # Given a real network behind a batcher, and 12 threads each holding a different image
    model = tiny_x4.module
    calls: list[int] = []

    def run_batch(images: list[torch.Tensor]) -> list[torch.Tensor]:
        calls.append(len(images))
        with torch.inference_mode():
            return list(model(torch.stack(images)).unbind(0))

    batcher = DynamicBatcher(
        run_batch=run_batch,
        max_batch_size=4,
        max_wait_ms=200,
        group_key=lambda image: tuple(image.shape),
    )
    generator = torch.Generator().manual_seed(0)
    images = [torch.rand(3, 12, 12, generator=generator) for _ in range(12)]
    with torch.inference_mode():
        singles = [model(image[None])[0] for image in images]
    start = threading.Barrier(len(images))

    def call(index: int) -> list[torch.Tensor]:
        start.wait()
        # each thread sends its image and then a flipped copy: two requests, in order
        return batcher.run_many([images[index], images[index].flip(-1)])

    # When they all submit at once
    with ThreadPoolExecutor(max_workers=len(images)) as pool:
        results = list(pool.map(call, range(len(images))))
    batcher.close()

    # Then each caller got its own outputs, in its order, equal to a lone forward pass
    for index, (plain, flipped) in enumerate(results):
        assert torch.allclose(plain, singles[index], atol=1e-5)
        with torch.inference_mode():
            expected_flipped = model(images[index].flip(-1)[None])[0]
        assert torch.allclose(flipped, expected_flipped, atol=1e-5)
    # and the passes were batched, never above the limit
    stats = batcher.stats()
    assert stats.requests == 24 and sum(calls) == 24
    assert stats.largest > 1 and max(calls) <= 4
    assert stats.batches < 24


def test_requests_of_different_shapes_never_share_a_batch() -> None:
    seen: list[set[tuple[int, ...]]] = []

    def run_batch(items: list[torch.Tensor]) -> list[torch.Tensor]:
        seen.append({tuple(item.shape) for item in items})
        return [item * 2 for item in items]

    batcher = DynamicBatcher(
        run_batch=run_batch, max_batch_size=8, max_wait_ms=50, group_key=lambda t: tuple(t.shape)
    )
    inputs = [torch.ones(2) if i % 2 else torch.ones(3) for i in range(10)]
    outputs = batcher.run_many(inputs)
    batcher.close()
    assert all(torch.equal(out, inp * 2) for out, inp in zip(outputs, inputs, strict=True))
    assert all(len(shapes) == 1 for shapes in seen)


def test_a_failing_batch_fails_every_request_in_it_and_the_batcher_lives_on() -> None:
    def run_batch(items: list[int]) -> list[int]:
        if any(item < 0 for item in items):
            raise ValueError("negative input")
        return [item + 1 for item in items]

    batcher = DynamicBatcher(run_batch=run_batch, max_batch_size=4, max_wait_ms=50)
    futures = [batcher.submit(item) for item in (1, -1, 2)]
    for future in futures:
        with pytest.raises(ValueError, match="negative input"):
            future.result(timeout=5)
    assert batcher.run(5) == 6
    batcher.close()


def test_wrong_number_of_results_is_an_error_for_the_callers() -> None:
    batcher: DynamicBatcher[int, int] = DynamicBatcher(
        run_batch=lambda items: items[:1], max_batch_size=4, max_wait_ms=50
    )
    futures = [batcher.submit(i) for i in range(3)]
    with pytest.raises(RuntimeError, match="returned 1 results for 3 requests"):
        futures[-1].result(timeout=5)
    batcher.close()


def test_a_lone_request_waits_no_longer_than_max_wait() -> None:
    batcher = DynamicBatcher(run_batch=lambda items: items, max_batch_size=8, max_wait_ms=30)
    started = time.monotonic()
    assert batcher.run("only") == "only"
    waited_s = time.monotonic() - started
    batcher.close()
    assert 0.02 <= waited_s < 1.0


def test_a_full_batch_runs_without_waiting() -> None:
    batcher = DynamicBatcher(run_batch=lambda items: items, max_batch_size=4, max_wait_ms=5000)
    started = time.monotonic()
    assert batcher.run_many(list(range(4))) == [0, 1, 2, 3]
    assert time.monotonic() - started < 2.0
    batcher.close()


def test_close_runs_what_is_queued_then_refuses_more() -> None:
    batcher = DynamicBatcher(run_batch=lambda items: items, max_batch_size=8, max_wait_ms=10_000)
    future = batcher.submit(7)
    batcher.close()
    assert future.result(timeout=5) == 7
    with pytest.raises(BatcherClosedError):
        batcher.submit(8)
