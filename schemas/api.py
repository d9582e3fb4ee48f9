"""Pydantic models of the public HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.states import ErrorClass, JobState, StageState


class BatchSpec(BaseModel):
    """A batch submitted as JSON. Items are free-form objects; each needs a `custom_id`."""

    model_config = ConfigDict(extra="forbid")

    template: str = Field(description="Name of a pipeline template, see GET /v1/templates.")
    items: list[dict[str, Any]] = Field(min_length=1)
    priority: int = Field(default=5, ge=0, le=9, description="0 lowest, 9 most urgent.")
    metadata: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-stage parameter overrides: {stage: {param: value}}."
    )
    engines: dict[str, str] = Field(
        default_factory=dict,
        description='Per-stage engine overrides: {stage: engine}, e.g. {"upscale": "esrgan"}; '
        "GPU engines run on the gpu queue.",
    )


class JobRef(BaseModel):
    id: str
    custom_id: str


class BatchAccepted(BaseModel):
    id: str
    template: str
    item_count: int
    jobs: list[JobRef]
    status_url: str


class OutputRef(BaseModel):
    port: str
    digest: str
    media_type: str
    size_bytes: int
    duration_s: float | None = None
    url: str


class StageView(BaseModel):
    name: str
    kind: str
    engine: str
    engine_version: str | None
    state: StageState
    attempts: int
    max_attempts: int
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    is_cache_hit: bool
    error_class: ErrorClass | None
    error: str | None
    outputs: list[OutputRef]


class JobView(BaseModel):
    id: str
    batch_id: str
    custom_id: str
    state: JobState
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    stages: list[StageView]


class JobSummary(BaseModel):
    id: str
    custom_id: str
    state: JobState
    started_at: datetime | None
    finished_at: datetime | None


class BatchView(BaseModel):
    id: str
    template: str
    priority: int
    metadata: dict[str, Any]
    item_count: int
    counts: dict[JobState, int]
    percent_done: float
    created_at: datetime
    canceled_at: datetime | None
    completed_at: datetime | None
    jobs: list[JobSummary] = Field(default_factory=list)
    jobs_offset: int = 0
    jobs_limit: int = 0


class BatchPage(BaseModel):
    batches: list[BatchView]
    next_cursor: str | None


class CancelResult(BaseModel):
    id: str
    canceled_jobs: int
    canceled_stages: int


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None
