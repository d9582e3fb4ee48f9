"""A stage held by a killed process of this host is taken over at once, not after its lease."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from sqlalchemy import update

from producer.crud import claim_stage_run
from schemas.tables import StageRun
from tests.workers.test_runner import ctx, stage, submit  # noqa: F401 - the ctx fixture
from workers.context import WorkerContext
from workers.lease_holders import is_dead_local_owner
from workers.runner import run_stage


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()  # reaped: the pid names no process now
    return process.pid


def test_only_an_exited_process_of_this_host_is_dead() -> None:
    host = socket.gethostname()
    assert is_dead_local_owner(f"{host}:{dead_pid()}:abcd")
    assert not is_dead_local_owner(f"{host}:{os.getppid()}:abcd")  # alive
    assert not is_dead_local_owner(f"{host}:{os.getpid()}:abcd")  # ourselves
    assert not is_dead_local_owner(f"other-host:{dead_pid()}:abcd")  # not ours to judge
    assert not is_dead_local_owner("garbage")


def hold(ctx: WorkerContext, stage_run_id: str, owner: str) -> None:  # noqa: F811
    """Claim the stage for `owner` with a lease that would last ten minutes."""
    with ctx.db.session() as session:
        assert claim_stage_run(session=session, stage_run_id=stage_run_id, owner=owner, lease_s=600)


def test_a_stage_held_by_a_killed_pool_child_runs_at_once(ctx: WorkerContext) -> None:  # noqa: F811
    script_id, _ = submit(ctx)
    hold(ctx, script_id, f"{socket.gethostname()}:{dead_pid()}:dead")
    outcome = run_stage(script_id, ctx=ctx)
    assert outcome.status == "succeeded", outcome
    assert stage(ctx, script_id).attempts == 2  # the killed attempt counts


def test_a_stage_held_by_a_live_process_or_another_host_waits_for_its_lease(
    ctx: WorkerContext,  # noqa: F811
) -> None:
    script_id, _ = submit(ctx)
    for owner in (f"{socket.gethostname()}:{os.getppid()}:live", f"elsewhere:{dead_pid()}:x"):
        with ctx.db.session() as session:
            session.execute(update(StageRun).where(StageRun.id == script_id).values(state="queued"))
        hold(ctx, script_id, owner)
        assert run_stage(script_id, ctx=ctx).status == "skipped"
        assert stage(ctx, script_id).lease_owner == owner
