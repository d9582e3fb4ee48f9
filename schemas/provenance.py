"""The provenance record stored beside every artifact: enough to reproduce it."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class EngineInfo(BaseModel):
    name: str
    version: str
    model_id: str | None = None
    weights_digest: str | None = None
    device: str = "cpu"
    library_versions: dict[str, str] = Field(default_factory=dict)
    runtime: dict[str, str] = Field(
        default_factory=dict, description="backend, precision, device and fallback reason"
    )


class ProvenanceRecord(BaseModel):
    schema_version: int = 1
    artifact_digest: str
    media_type: str
    size_bytes: int
    output_port: str
    stage: str
    stage_kind: str
    engine: EngineInfo
    parameters: dict[str, Any]
    seed: int | None = None
    input_digests: dict[str, list[str]]
    cache_key: str
    job_id: str
    batch_id: str
    tenant_id: str
    custom_id: str
    worker_host: str
    python_version: str
    mediaq_version: str
    started_at: datetime
    finished_at: datetime
    duration_s: float
    record_digest: str = ""


def seal_record(record: ProvenanceRecord) -> ProvenanceRecord:
    """Return the record with `record_digest` = sha256 of its canonical JSON without the digest."""
    body = record.model_dump(mode="json", exclude={"record_digest"})
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return record.model_copy(update={"record_digest": digest})
