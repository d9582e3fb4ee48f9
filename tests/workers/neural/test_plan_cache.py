"""TensorRT plan cache: keys cover everything a plan depends on; plans round-trip the store."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from producer.objectstore import LocalObjectStore
from producer.objectstore.base import object_key
from workers.engines.neural.plan_cache import PlanCache, PlanKey, ShapeRange

PROFILE = {"image": ShapeRange(min=(1, 3, 2, 2), opt=(8, 3, 224, 224), max=(8, 3, 224, 224))}
KEY = PlanKey(
    onnx_digest="a" * 64,
    tensorrt_version="10.13.0",
    compute_capability="9.0",
    precision="fp16",
    profiles=(PROFILE,),
    builder_flags=("strongly_typed=1", "workspace_bytes=4294967296"),
)


@pytest.fixture
def cache(tmp_path: Path) -> PlanCache:
    return PlanCache(LocalObjectStore(tmp_path / "objects"))


@pytest.mark.parametrize(
    "change",
    [
        {"onnx_digest": "b" * 64},
        {"tensorrt_version": "10.14.1"},
        {"compute_capability": "8.9"},
        {"precision": "fp32"},
        {
            "profiles": (
                {"image": ShapeRange(min=(1, 3, 2, 2), opt=(4, 3, 224, 224), max=(8, 3, 224, 224))},
            )
        },
        {"builder_flags": ("strongly_typed=1", "workspace_bytes=1073741824")},
    ],
)
def test_every_field_of_the_plan_key_changes_its_digest(change: dict[str, object]) -> None:
    assert dataclasses.replace(KEY, **change).digest() != KEY.digest()


def test_builder_flag_order_does_not_matter() -> None:
    reordered = dataclasses.replace(KEY, builder_flags=tuple(reversed(KEY.builder_flags)))
    assert reordered.digest() == KEY.digest()


def test_a_stored_plan_is_found_by_an_equal_key_from_another_process(
    cache: PlanCache, tmp_path: Path
) -> None:
    assert cache.get_plan(KEY) is None
    digest = cache.put_plan(KEY, b"plan bytes", facts={"max_abs_error": 0.001})
    other_pod = PlanCache(LocalObjectStore(tmp_path / "objects"))
    rebuilt_key = dataclasses.replace(KEY, builder_flags=tuple(KEY.builder_flags))
    assert other_pod.get_plan(rebuilt_key) == b"plan bytes"
    assert digest == hashlib.sha256(b"plan bytes").hexdigest()
    assert other_pod.get_plan(dataclasses.replace(KEY, compute_capability="8.0")) is None


def test_a_plan_whose_bytes_are_gone_or_corrupt_is_a_miss(cache: PlanCache, tmp_path: Path) -> None:
    digest = cache.put_plan(KEY, b"plan bytes", facts={})
    stored = tmp_path / "objects" / object_key(digest)
    stored.chmod(0o644)
    stored.write_bytes(b"flipped bits")
    assert cache.get_plan(KEY) is None
    stored.unlink()
    assert cache.get_plan(KEY) is None


def test_the_newest_timing_cache_wins_per_version_and_gpu(cache: PlanCache) -> None:
    assert cache.get_timing_cache(tensorrt_version="10.13.0", compute_capability="9.0") is None
    cache.put_timing_cache(tensorrt_version="10.13.0", compute_capability="9.0", data=b"first")
    cache.put_timing_cache(tensorrt_version="10.13.0", compute_capability="9.0", data=b"second")
    assert cache.get_timing_cache(tensorrt_version="10.13.0", compute_capability="9.0") == b"second"
    assert cache.get_timing_cache(tensorrt_version="10.13.0", compute_capability="8.9") is None


def test_profile_ranges_are_checked() -> None:
    assert PROFILE["image"].contains((3, 3, 100, 224))
    assert not PROFILE["image"].contains((9, 3, 100, 100))
    with pytest.raises(ValueError, match="min <= opt <= max"):
        ShapeRange(min=(2,), opt=(1,), max=(3,))
