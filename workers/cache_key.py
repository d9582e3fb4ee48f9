"""Cache keys: a stage's output is a pure function of what goes into this hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

# Bump when the meaning of a key changes, so old entries stop matching.
CACHE_KEY_VERSION = 1
# Fields that name an item but never change what a stage makes from it.
IDENTITY_FIELDS = frozenset({"custom_id"})


def compute_cache_key(
    *,
    kind: str,
    engine: str,
    engine_version: str,
    model_digest: str | None,
    params: Mapping[str, Any],
    input_digests: Mapping[str, Sequence[str]],
    item: Mapping[str, Any] | None,
    tenant_id: str,
) -> str:
    """sha256 over the canonical JSON of everything that determines a stage's outputs.

    Args:
        item: the job's item when the stage reads it, else None; identity fields are dropped
            so two items that differ only by `custom_id` share their media.
        tenant_id: results are reused within a tenant only, so a cache hit never tells one
            customer what another submitted.
    """
    body = {
        "v": CACHE_KEY_VERSION,
        "tenant": tenant_id,
        "kind": kind,
        "engine": engine,
        "engine_version": engine_version,
        "model_digest": model_digest,
        "params": params,
        "inputs": {port: list(digests) for port, digests in input_digests.items()},
        "item": None
        if item is None
        else {k: v for k, v in item.items() if k not in IDENTITY_FIELDS},
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
