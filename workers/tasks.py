"""One thin Celery task: run a stage run by id. Everything else is in the runner."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from producer.broker import RUN_STAGE_TASK
from producer.dispatch import send_stage_runs
from producer.jsonlog import log_context
from workers.app import app
from workers.context import WorkerContext, get_context
from workers.runner import RunOutcome, run_stage

log = logging.getLogger(__name__)

MAX_FOLLOW_ONS = 64  # a job's whole DAG, with room; then the broker takes over again
# Running follow-ons keeps a higher-priority message waiting at most this long, and bounds how
# much longer a warm shutdown waits for this delivery than for one stage.
FOLLOW_ON_BUDGET_S = 30.0
DB_RETRY_MAX_S = 30.0


@app.task(name=RUN_STAGE_TASK, acks_late=True, reject_on_worker_lost=True, bind=True)
def run_stage_task(self: Any, stage_run_id: str) -> str:
    ctx = get_context(app)
    queue = (self.request.delivery_info or {}).get("routing_key")
    started = time.monotonic()
    try:
        outcome = _run_logged(stage_run_id, ctx)
    except (OperationalError, InterfaceError) as error:
        # the database is unreachable (restart, failover): come back to this stage shortly
        # instead of dropping the message and waiting for the reconciler's next re-send
        delay_s = retry_delay_s(self.request.retries)
        log.warning("stage run %s: database unreachable, again in %.0f s", stage_run_id, delay_s)
        raise self.retry(exc=error, countdown=delay_s, max_retries=None) from None
    status = outcome.status
    for _ in range(MAX_FOLLOW_ONS):
        follow_on = outcome.follow_on
        if follow_on is None or follow_on.queue != queue:
            break
        if time.monotonic() - started > FOLLOW_ON_BUDGET_S:
            break
        outcome = _run_logged(follow_on.stage_run_id, ctx)
    if outcome.follow_on is not None:  # for another queue, or over the budget: send it
        send_stage_runs(app=ctx.app, settings=ctx.settings, messages=[outcome.follow_on])
    return status


def retry_delay_s(retries: int) -> float:
    """1, 2, 4, ... s up to DB_RETRY_MAX_S, +-20% jitter so workers do not all return at once."""
    return min(DB_RETRY_MAX_S, 2.0**retries) * random.uniform(0.8, 1.2)


def _run_logged(stage_run_id: str, ctx: WorkerContext) -> RunOutcome:
    with log_context(stage_run_id=stage_run_id):
        outcome = run_stage(stage_run_id, ctx=ctx)
        log.info("stage run %s: %s %s", stage_run_id, outcome.status, outcome.detail)
    return outcome
