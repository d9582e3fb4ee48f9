"""Pydantic models of scheduled drops: the schedule a client creates, and what the API shows."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.fields import FieldInfo

from schemas.api import BatchSpec
from schemas.cron import CronError, load_zone, parse_cron

MAX_DEADLINE_OFFSET = timedelta(days=366)


class MissedRunPolicy(StrEnum):
    """What a scheduler does with runs that fell due while no scheduler was running."""

    SKIP = "skip"  # record them as skipped_missed; the next run comes on time
    CATCH_UP_ONCE = "catch_up_once"  # one run now for the whole missed window


class RunOutcome(StrEnum):
    CLAIMED = "claimed"  # a scheduler took it and is producing the batch
    CREATED = "created"
    SKIPPED_NO_NEW_ITEMS = "skipped_no_new_items"
    SKIPPED_MISSED = "skipped_missed"
    FAILED = "failed"


class RunTrigger(StrEnum):
    CRON = "cron"
    MANUAL = "manual"


def _batch_field(name: str) -> Any:
    """The BatchSpec field itself (constraints and description), so the two cannot drift."""
    field: FieldInfo = copy.copy(BatchSpec.model_fields[name])
    return field


def _no_nul(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL: refuse it here with a 422 rather than fail at the insert
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


class ScheduleSpec(BaseModel):
    """A schedule as created over the API. Exactly one of `items`, `feed` and `prefix`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    cron: str = Field(
        max_length=256,
        description='Five fields "minute hour day-of-month month day-of-week", e.g. '
        '"30 6 * * 1-5" (weekdays 06:30), or @daily/@hourly/...',
    )
    timezone: str = Field(default="UTC", max_length=64, description="IANA name: Europe/Berlin.")
    template: str = _batch_field("template")
    items: list[dict[str, Any]] | None = Field(
        default=None, min_length=1, description="Inline items, submitted on every run."
    )
    feed: str | None = Field(
        default=None,
        max_length=2048,
        description="https URL of a JSONL or CSV file, fetched on every run; only new or "
        "changed items (by custom_id and content digest) become jobs.",
    )
    prefix: str | None = Field(
        default=None,
        max_length=512,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
        description="Object-store folder below inbox/<tenant>/ whose .jsonl and .csv files are "
        "read on every run; only new or changed items become jobs.",
    )
    priority: int = _batch_field("priority")
    metadata: dict[str, Any] = _batch_field("metadata")
    params: dict[str, dict[str, Any]] = _batch_field("params")
    engines: dict[str, str] = _batch_field("engines")
    deadline_offset: timedelta | None = Field(
        default=None,
        description="ISO 8601 duration (PT45M) or seconds: each run's batch gets "
        "deadline = scheduled time + offset.",
    )
    missed_runs: MissedRunPolicy = MissedRunPolicy.SKIP
    webhook_endpoint_id: str | None = Field(default=None, max_length=64)

    @field_validator("name", "template", "webhook_endpoint_id", "prefix")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return _no_nul(value)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            return parse_cron(value).expression
        except CronError as error:
            raise ValueError(str(error)) from None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            load_zone(value)
        except CronError as error:
            raise ValueError(str(error)) from None
        return value

    @field_validator("feed")
    @classmethod
    def _feed(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _no_nul(value)
        parts = urlsplit(value)
        # plain http passes here only for the API to refuse it outside the test escape hatch
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be an https URL")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        if value is not None and ".." in value.split("/"):
            raise ValueError("must not contain '..'")
        return value

    @field_validator("deadline_offset")
    @classmethod
    def _offset(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and not timedelta(0) < value <= MAX_DEADLINE_OFFSET:
            raise ValueError("must be more than 0 and at most 366 days")
        return value


class ScheduleView(BaseModel):
    id: str
    name: str
    cron: str
    timezone: str
    template: str
    source: str = Field(description="items, feed or prefix")
    item_count: int | None = Field(description="inline items only")
    feed: str | None
    prefix: str | None
    priority: int
    metadata: dict[str, Any]
    params: dict[str, dict[str, Any]]
    engines: dict[str, str]
    deadline_offset_s: float | None
    missed_runs: MissedRunPolicy
    webhook_endpoint_id: str | None
    is_paused: bool
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SchedulePage(BaseModel):
    schedules: list[ScheduleView]
    next_cursor: str | None


class ScheduleRunView(BaseModel):
    id: str
    schedule_id: str
    scheduled_for: datetime
    trigger: RunTrigger
    outcome: RunOutcome
    fired_at: datetime | None
    batch_id: str | None
    item_count: int
    missed_runs: int = Field(description="scheduled times this record stands for (missed ones)")
    error: str | None


class ScheduleRunPage(BaseModel):
    runs: list[ScheduleRunView]
    next_cursor: str | None
