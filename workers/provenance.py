"""Provenance: build the record for an artifact (pure) and the facts about this worker."""

from __future__ import annotations

import platform
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import metadata
from typing import Any

from schemas.provenance import EngineInfo, ProvenanceRecord, seal_record


@dataclass(frozen=True)
class StageFacts:
    """What the runner knows about the stage run when it records an artifact."""

    stage: str
    stage_kind: str
    parameters: Mapping[str, Any]
    input_digests: Mapping[str, list[str]]
    cache_key: str
    job_id: str
    batch_id: str
    tenant_id: str
    custom_id: str
    started_at: datetime
    finished_at: datetime


@cache
def mediaq_version() -> str:
    try:
        return metadata.version("mediaq")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def build_record(
    *,
    facts: StageFacts,
    engine: EngineInfo,
    artifact_digest: str,
    media_type: str,
    size_bytes: int,
    output_port: str,
) -> ProvenanceRecord:
    """The sealed provenance record of one output of a stage run."""
    seed = facts.parameters.get("seed")
    return seal_record(
        ProvenanceRecord(
            artifact_digest=artifact_digest,
            media_type=media_type,
            size_bytes=size_bytes,
            output_port=output_port,
            stage=facts.stage,
            stage_kind=facts.stage_kind,
            engine=engine,
            parameters=dict(facts.parameters),
            seed=seed if isinstance(seed, int) else None,
            input_digests={k: list(v) for k, v in facts.input_digests.items()},
            cache_key=facts.cache_key,
            job_id=facts.job_id,
            batch_id=facts.batch_id,
            tenant_id=facts.tenant_id,
            custom_id=facts.custom_id,
            worker_host=socket.gethostname(),
            python_version=platform.python_version(),
            mediaq_version=mediaq_version(),
            started_at=facts.started_at,
            finished_at=facts.finished_at,
            duration_s=(facts.finished_at - facts.started_at).total_seconds(),
        )
    )
