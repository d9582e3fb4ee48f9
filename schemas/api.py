"""Pydantic models of the public HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, Strict

from schemas.states import ErrorClass, JobState, StageState

# RFC 3339 with an offset ("2026-12-07T06:00:00+01:00" or "...Z"); strict: no Unix numbers
Deadline = Annotated[AwareDatetime, Strict()]


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
    deadline: Deadline | None = Field(
        default=None,
        description="RFC 3339 time with offset, in the future. Jobs unfinished by then end "
        "`expired`; an item's own `deadline` field overrides it. Within a priority level the "
        "earliest deadline is dispatched first.",
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
    deadline: datetime | None = None


class JobSummary(BaseModel):
    id: str
    custom_id: str
    state: JobState
    started_at: datetime | None
    finished_at: datetime | None
    stage: str | None = Field(
        default=None,
        description="The stage the job is at: running, else queued, else the one that failed "
        "or was canceled; null once the job has succeeded.",
    )
    error_class: ErrorClass | None = Field(
        default=None, description="Why the job did not succeed, from its failed stage."
    )


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
    deadline: datetime | None = None
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


class RetryResult(BaseModel):
    """Failed and canceled stages put back in the queue; attempts so far are kept."""

    id: str
    retried_jobs: int
    retried_stages: int


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None
