"""Event types of the event log (live events over SSE, webhooks) and the payloads' shapes."""

from __future__ import annotations

from enum import StrEnum

from schemas.states import JobState


class EventType(StrEnum):
    BATCH_CREATED = "batch.created"
    BATCH_UPDATED = "batch.updated"
    BATCH_COMPLETED = "batch.completed"
    JOB_UPDATED = "job.updated"
    JOB_SUCCEEDED = "job.succeeded"
    JOB_FAILED = "job.failed"
    JOB_CANCELED = "job.canceled"
    JOB_EXPIRED = "job.expired"
    # a schedule's run ended (created its batch, skipped, missed or failed)
    SCHEDULE_RUN = "schedule.run"


class BatchState(StrEnum):
    """A batch's state as events report it, derived from its job counts."""

    QUEUED = "queued"  # no job has started
    RUNNING = "running"
    COMPLETED = "completed"  # every job finished, however it ended
    CANCELED = "canceled"  # completed because it was canceled


TERMINAL_JOB_EVENTS: dict[JobState, EventType] = {
    JobState.SUCCEEDED: EventType.JOB_SUCCEEDED,
    JobState.FAILED: EventType.JOB_FAILED,
    JobState.CANCELED: EventType.JOB_CANCELED,
    JobState.EXPIRED: EventType.JOB_EXPIRED,
}

# what a webhook endpoint receives when it names no event types: outcomes, not progress
DEFAULT_WEBHOOK_EVENTS: tuple[EventType, ...] = (
    *TERMINAL_JOB_EVENTS.values(),
    EventType.BATCH_COMPLETED,
)

# Payload fields (the `data` of an SSE message, the `data` of a webhook body):
#   job.*:   job_id, batch_id, custom_id, state, stage (kind of the stage now running or last
#            finished; null when unknown, e.g. on cancel), stage_state, error_class (when failed)
#   batch.*: batch_id, state (BatchState), item_count, counts {job state: n}, percent_done;
#            batch.created adds template and priority
#   schedule.run: schedule_id, schedule_name, run_id, scheduled_for, trigger (cron, manual),
#            outcome (created, skipped_no_new_items, skipped_missed, failed), batch_id (when
#            created), item_count, missed_runs, error (when failed), webhook_endpoint_id (the
#            schedule's endpoint, which gets these events whatever types it subscribed to)
