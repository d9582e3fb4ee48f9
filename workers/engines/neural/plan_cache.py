"""TensorRT plan cache in the object store, so a new pod reuses a plan another pod built.

The object store is content-addressed and has no named keys, so a lookup key is stored as an
object itself: the canonical JSON of the PlanKey. Its digest is the key's digest; a sidecar on
it (`trt-plan`) names the digest of the plan bytes. The timing cache works the same way, keyed
by TensorRT version and compute capability only, since timings are per GPU, not per model.

    key object  sha256(canonical PlanKey JSON)  --sidecar trt-plan-->  {"plan_digest": ...}
    plan object sha256(plan bytes)

Two pods building the same plan at once both store it; the last sidecar write wins and both
plans are valid. A timing cache grows with every build; each version is a new object and the
sidecar points at the newest (older ones are left behind: they are small).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from producer.objectstore.base import ObjectNotFound, ObjectStore

log = logging.getLogger(__name__)

PLAN_SIDECAR = "trt-plan"
TIMING_CACHE_SIDECAR = "trt-timing-cache"
_MEDIA_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class ShapeRange:
    """An optimisation profile entry for one input: smallest, typical and largest shape."""

    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]

    def __post_init__(self) -> None:
        if not len(self.min) == len(self.opt) == len(self.max):
            raise ValueError(f"profile shapes differ in rank: {self.min}, {self.opt}, {self.max}")
        for low, mid, high in zip(self.min, self.opt, self.max, strict=True):
            if not 0 < low <= mid <= high:
                raise ValueError(f"profile needs 0 < min <= opt <= max, got {self}")

    def contains(self, shape: tuple[int, ...]) -> bool:
        """Whether a runtime input shape lies inside the range."""
        return len(shape) == len(self.min) and all(
            low <= size <= high for low, size, high in zip(self.min, shape, self.max, strict=True)
        )


@dataclass(frozen=True)
class PlanKey:
    """Everything a serialized TensorRT plan depends on; equal keys mean interchangeable plans.

    Attributes:
        onnx_digest: sha256 of the ONNX file (weights and precision are inside it).
        tensorrt_version: e.g. "10.13.0"; plans do not load across versions.
        compute_capability: e.g. "9.0"; plans do not load across GPU architectures.
        precision: "fp32" or "fp16" (already in the ONNX, kept here to make the key readable).
        profiles: per optimisation profile, input name -> ShapeRange.
        builder_flags: the builder settings that change the plan, as "name=value" strings.
    """

    onnx_digest: str
    tensorrt_version: str
    compute_capability: str
    precision: str
    profiles: tuple[Mapping[str, ShapeRange], ...]
    builder_flags: tuple[str, ...]

    def canonical_json(self) -> bytes:
        body = asdict(self)
        body["kind"] = "tensorrt-plan"
        body["profiles"] = [
            {name: [list(r.min), list(r.opt), list(r.max)] for name, r in sorted(p.items())}
            for p in self.profiles
        ]
        body["builder_flags"] = sorted(self.builder_flags)
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def digest(self) -> str:
        return hashlib.sha256(self.canonical_json()).hexdigest()


class PlanCache:
    """Plans and timing caches in an object store. Safe to share across threads and processes."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def get_plan(self, key: PlanKey) -> bytes | None:
        """The cached plan for `key`, or None (never built, or its bytes are gone)."""
        pointer = self._read_pointer(key.canonical_json(), PLAN_SIDECAR)
        return self._read_object(pointer.get("plan_digest")) if pointer else None

    def put_plan(self, key: PlanKey, plan: bytes, *, facts: Mapping[str, Any]) -> str:
        """Store a plan that passed its accuracy check; returns the plan's digest.

        Args:
            key: what the plan was built from.
            plan: the serialized engine.
            facts: JSON-able notes kept beside it (accuracy, build time, GPU name).
        """
        stored = self.store.put_bytes(data=plan, media_type=_MEDIA_TYPE)
        record = {"plan_digest": stored.digest, "size_bytes": stored.size_bytes, **facts}
        self._write_pointer(key.canonical_json(), PLAN_SIDECAR, record)
        return stored.digest

    def get_timing_cache(self, *, tensorrt_version: str, compute_capability: str) -> bytes | None:
        """The newest timing cache for this TensorRT version and GPU architecture, or None."""
        key = _timing_key(tensorrt_version, compute_capability)
        pointer = self._read_pointer(key, TIMING_CACHE_SIDECAR)
        return self._read_object(pointer.get("digest")) if pointer else None

    def put_timing_cache(
        self, *, tensorrt_version: str, compute_capability: str, data: bytes
    ) -> None:
        """Store a timing cache and make it the newest for its version and architecture."""
        stored = self.store.put_bytes(data=data, media_type=_MEDIA_TYPE)
        key = _timing_key(tensorrt_version, compute_capability)
        self._write_pointer(key, TIMING_CACHE_SIDECAR, {"digest": stored.digest})

    def _read_pointer(self, key_json: bytes, sidecar: str) -> dict[str, Any] | None:
        digest = hashlib.sha256(key_json).hexdigest()
        raw = self.store.get_sidecar(digest=digest, name=sidecar)
        return json.loads(raw) if raw else None

    def _write_pointer(self, key_json: bytes, sidecar: str, record: Mapping[str, Any]) -> None:
        key_object = self.store.put_bytes(data=key_json, media_type="application/json")
        data = json.dumps(record, sort_keys=True).encode("utf-8")
        self.store.put_json_sidecar(digest=key_object.digest, name=sidecar, data=data)

    def _read_object(self, digest: Any) -> bytes | None:
        if not isinstance(digest, str):
            return None
        try:
            with self.store.open(digest) as handle:
                data = handle.read()
        except ObjectNotFound:
            log.warning("TensorRT cache entry points at missing object %s", digest)
            return None
        if hashlib.sha256(data).hexdigest() != digest:
            log.warning("TensorRT cache object %s is corrupt; ignoring it", digest)
            return None
        return data


def _timing_key(tensorrt_version: str, compute_capability: str) -> bytes:
    body = {
        "kind": "tensorrt-timing-cache",
        "tensorrt_version": tensorrt_version,
        "compute_capability": compute_capability,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")
