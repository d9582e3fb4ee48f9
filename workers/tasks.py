"""One thin Celery task: run a stage run by id. Everything else is in the runner."""

from __future__ import annotations

import logging

from producer.broker import RUN_STAGE_TASK
from producer.jsonlog import log_context
from workers.app import app
from workers.context import get_context
from workers.runner import run_stage

log = logging.getLogger(__name__)


@app.task(name=RUN_STAGE_TASK, acks_late=True, reject_on_worker_lost=True)
def run_stage_task(stage_run_id: str) -> str:
    with log_context(stage_run_id=stage_run_id):
        outcome = run_stage(stage_run_id, ctx=get_context(app))
        log.info("stage run %s: %s %s", stage_run_id, outcome.status, outcome.detail)
    return outcome.status
