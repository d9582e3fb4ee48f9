"""Lifecycle states of stages and jobs (DESIGN.md "States")."""

from __future__ import annotations

from enum import StrEnum


class StageState(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"


class ErrorClass(StrEnum):
    """Whether a failure may heal on retry; shown in the job view."""

    TRANSIENT = "transient"
    PERMANENT = "permanent"
    UPSTREAM = "upstream"
    CANCELED = "canceled"
    EXPIRED = "expired"  # the job's deadline passed before the stage finished


TERMINAL_STAGE_STATES = frozenset({StageState.SUCCEEDED, StageState.FAILED, StageState.CANCELED})
TERMINAL_JOB_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED, JobState.EXPIRED}
)
