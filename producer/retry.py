"""Retrying finished jobs that did not succeed: their failed and canceled stages run again.

A retry keeps what succeeded (its outputs are inputs of the stages that run again), puts the
failed and canceled stage runs back to `pending`, and queues those whose inputs are ready; the
runner's cache makes a stage that already ran with the same inputs cost nothing. The attempt
count is kept as history; each retried stage gets a fresh budget of its template's
`max_attempts` on top of it, since the runner gives up once attempts exceed the maximum.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from producer.crud import queue_ready_stages
from producer.dispatch import StageMessage
from producer.events import JobChange, record_job_changes
from producer.ids import utcnow
from producer.lifecycle import job_state
from schemas.pipelines import builtin_templates
from schemas.states import JobState, StageState
from schemas.tables import Batch, Job, StageRun

RETRYABLE_JOB_STATES = (JobState.FAILED, JobState.CANCELED, JobState.EXPIRED)
_RETRYABLE_STAGE_STATES = (StageState.FAILED, StageState.CANCELED)
_CHUNK = 500


@dataclass
class RetryOutcome:
    jobs: int = 0
    stages: int = 0
    messages: list[StageMessage] = field(default_factory=list)


def retry_jobs(*, session: Session, job_ids: Iterable[str]) -> RetryOutcome:
    """Run the failed, canceled and expired jobs among `job_ids` again.

    Returns:
        How many jobs and stage runs were reset, and the messages to send after commit.
    """
    jobs = session.execute(
        select(Job.id, Job.state, Job.batch_id, Job.tenant_id, Job.custom_id, Batch.template)
        .join(Batch, Batch.id == Job.batch_id)
        .where(Job.id.in_(list(job_ids)), Job.state.in_(RETRYABLE_JOB_STATES))
    ).all()
    if not jobs:
        return RetryOutcome()
    ids = [job.id for job in jobs]
    stages = session.execute(
        select(
            StageRun.id,
            StageRun.job_id,
            StageRun.node,
            StageRun.state,
            StageRun.attempts,
            StageRun.max_attempts,
        ).where(StageRun.job_id.in_(ids))
    ).all()
    templates = {job.id: job.template for job in jobs}
    resets = [_reset(stage, templates[stage.job_id]) for stage in stages if _is_retried(stage)]
    if resets:
        # bulk UPDATE by primary key: one statement, executed per row by the driver
        session.execute(update(StageRun), resets)
    new_states = _states_after_reset(stages)
    _reopen_jobs(session=session, new_states=new_states)
    messages = [m for job_id in ids for m in queue_ready_stages(session=session, job_id=job_id)]
    record_job_changes(session=session, changes=[_change(job, new_states[job.id]) for job in jobs])
    return RetryOutcome(jobs=len(ids), stages=len(resets), messages=messages)


def _reopen_jobs(*, session: Session, new_states: dict[str, JobState]) -> None:
    for state in set(new_states.values()):
        chosen = [job_id for job_id, new in new_states.items() if new == state]
        session.execute(update(Job).where(Job.id.in_(chosen)).values(state=state, finished_at=None))
    # a passed deadline would expire the job again at once: the retry asks for it now (no
    # in-Python evaluation on loaded Job objects: SQLite hands back naive datetimes)
    session.execute(
        update(Job)
        .where(Job.id.in_(list(new_states)), Job.deadline <= utcnow())
        .values(deadline=None)
        .execution_options(synchronize_session=False)
    )


def _is_retried(stage: Any) -> bool:
    return stage.state in _RETRYABLE_STAGE_STATES


def _reset(stage: Any, template_name: str) -> dict[str, Any]:
    return {
        "id": stage.id,
        "state": StageState.PENDING,
        "max_attempts": stage.attempts + _budget(template_name, stage),
        "error": None,
        "error_class": None,
        "finished_at": None,
        "lease_owner": None,
        "lease_expires_at": None,
    }


def _states_after_reset(stages: Iterable[Any]) -> dict[str, JobState]:
    """Each job's state once its retried stages are pending again (queued, or running when a
    stage has already succeeded), set before queueing so the job reads as one change."""
    by_job: dict[str, list[str]] = {}
    for stage in stages:
        state = StageState.PENDING if _is_retried(stage) else stage.state
        by_job.setdefault(stage.job_id, []).append(state)
    return {job_id: job_state(states) for job_id, states in by_job.items()}


def _change(job: Any, state: JobState) -> JobChange:
    return JobChange(
        job_id=job.id,
        batch_id=job.batch_id,
        tenant_id=job.tenant_id,
        custom_id=job.custom_id,
        state=state.value,
        previous_state=job.state,
    )


def _budget(template_name: str, stage: Any) -> int:
    """The node's attempts per run in its template; the stage's own maximum if it is gone."""
    template = builtin_templates().get(template_name)
    node = next((n for n in template.stages if n.name == stage.node), None) if template else None
    return node.max_attempts if node else max(stage.max_attempts, 1)


def retry_batch(*, session: Session, batch_id: str) -> RetryOutcome:
    """Retry every failed, canceled or expired job of the batch; a canceled batch is resumed."""
    session.execute(update(Batch).where(Batch.id == batch_id).values(canceled_at=None))
    job_ids = list(
        session.execute(
            select(Job.id).where(Job.batch_id == batch_id, Job.state.in_(RETRYABLE_JOB_STATES))
        ).scalars()
    )
    total = RetryOutcome()
    # in chunks: SQLite takes at most 32,766 bound parameters in one statement
    for start in range(0, len(job_ids), _CHUNK):
        outcome = retry_jobs(session=session, job_ids=job_ids[start : start + _CHUNK])
        total.jobs += outcome.jobs
        total.stages += outcome.stages
        total.messages.extend(outcome.messages)
    return total
