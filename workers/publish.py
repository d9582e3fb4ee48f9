"""Putting a stage's outputs into the object store, with a provenance record for each."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from producer.ids import utcnow
from schemas.provenance import EngineInfo
from workers.engines.base import Engine
from workers.provenance import StageFacts, build_record
from workers.stages.base import StageOutput

if TYPE_CHECKING:
    from workers.context import WorkerContext


@dataclass(frozen=True)
class StageSnapshot:
    """The facts about a claimed stage run that the runner needs outside a transaction."""

    id: str
    name: str
    kind: str
    engine: str
    params: dict[str, Any]
    attempts: int
    max_attempts: int
    input_digests: dict[str, list[str]]
    is_list_port: dict[str, bool]
    item: dict[str, Any]
    job_id: str
    batch_id: str
    tenant_id: str
    custom_id: str
    started_at: datetime


@dataclass(frozen=True)
class Published:
    """Output port -> digest, plus the rows to insert in the committing transaction."""

    outputs: dict[str, str]
    artifact_rows: list[dict[str, Any]]
    provenance_rows: list[dict[str, Any]]


def engine_info(engine: Engine) -> EngineInfo:
    return EngineInfo(
        name=engine.name,
        version=engine.version,
        model_id=engine.model_id,
        weights_digest=engine.model_digest,
        device=engine.device,
        library_versions=engine.library_versions(),
        runtime=engine.runtime_info(),
    )


def publish_outputs(
    *,
    ctx: WorkerContext,
    snap: StageSnapshot,
    produced: list[StageOutput],
    engine: Engine,
    cache_key: str,
) -> Published:
    """Store each output under its digest (once) with its provenance record beside it."""
    finished = utcnow()
    facts = StageFacts(
        stage=snap.name,
        stage_kind=snap.kind,
        parameters=snap.params,
        input_digests=snap.input_digests,
        cache_key=cache_key,
        job_id=snap.job_id,
        batch_id=snap.batch_id,
        tenant_id=snap.tenant_id,
        custom_id=snap.custom_id,
        started_at=snap.started_at,
        finished_at=finished,
    )
    info = engine_info(engine)
    outputs: dict[str, str] = {}
    artifacts: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    for output in produced:
        stored = ctx.store.put_file(path=output.path, media_type=output.media_type)
        record = build_record(
            facts=facts,
            engine=info,
            artifact_digest=stored.digest,
            media_type=output.media_type,
            size_bytes=stored.size_bytes,
            output_port=output.name,
        )
        # an uploaded asset passed through unchanged is stored already, but without a record
        if stored.is_new or ctx.store.get_sidecar(digest=stored.digest, name="provenance") is None:
            body = json.dumps(record.model_dump(mode="json"), indent=2, ensure_ascii=False)
            ctx.store.put_json_sidecar(
                digest=stored.digest, name="provenance", data=body.encode("utf-8")
            )
        outputs[output.name] = stored.digest
        artifacts.append(_artifact_row(output, stored.digest, stored.size_bytes, stored.uri))
        records.append(_provenance_row(snap, record.model_dump(mode="json"), stored.digest))
    return Published(outputs, artifacts, records)


def _artifact_row(output: StageOutput, digest: str, size_bytes: int, uri: str) -> dict[str, Any]:
    return {
        "digest": digest,
        "media_type": output.media_type,
        "size_bytes": size_bytes,
        "duration_s": output.duration_s,
        "uri": uri,
        "created_at": utcnow(),
    }


def _provenance_row(snap: StageSnapshot, record: dict[str, Any], digest: str) -> dict[str, Any]:
    return {
        "artifact_digest": digest,
        "stage_run_id": snap.id,
        "tenant_id": snap.tenant_id,
        "record": record,
        "record_digest": record["record_digest"],
        "created_at": utcnow(),
    }
