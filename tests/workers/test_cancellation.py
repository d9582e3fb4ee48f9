"""Cooperative cancellation: the heartbeat notices, the long loops stop, nothing is published."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, update

from producer.crud import cancel_jobs, claim_stage_run
from producer.ids import utcnow
from producer.settings import Settings
from schemas.tables import Job, StageRun
from tests.workers.test_runner import submit
from workers.cancellation import StageCanceled, cancel_scope, check_canceled
from workers.context import WorkerContext
from workers.heartbeat import Heartbeat
from workers.media.ffmpeg import FrameEncoder, run_ffmpeg

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def ctx(embedded_settings: Settings) -> WorkerContext:
    context = WorkerContext.from_settings(embedded_settings)
    yield context
    context.close()


def test_outside_a_stage_run_nothing_is_ever_canceled() -> None:
    check_canceled()


def test_a_frame_loop_stops_at_the_next_frame_once_canceled(tmp_path: Path) -> None:
    flag = threading.Event()
    frame = np.zeros((64, 64, 3), dtype=np.uint8)
    with (
        pytest.raises(StageCanceled),
        cancel_scope(flag),
        FrameEncoder(tmp_path / "out.mp4", width=64, height=64, fps=8) as encoder,
    ):
        for index in range(1000):
            if index == 5:
                flag.set()
            encoder.write(frame)
    assert encoder.frames_written == 5


def test_a_running_ffmpeg_is_killed_within_a_second_of_the_cancel(tmp_path: Path) -> None:
    flag = threading.Event()
    threading.Timer(0.5, flag.set).start()
    started = time.monotonic()
    with pytest.raises(StageCanceled), cancel_scope(flag):
        # a minute of 720p video: tens of seconds of encoding on a CI core
        run_ffmpeg(
            [
                "-f",
                "lavfi",
                "-i",
                "testsrc2=s=1280x720:r=25:d=60",
                "-c:v",
                "libx264",
                str(tmp_path / "long.mp4"),
            ]  # fmt: skip
        )
    assert time.monotonic() - started < 2.0


def claimed_stage(ctx: WorkerContext) -> str:
    script_id, _ = submit(ctx)
    with ctx.db.session() as session:
        assert claim_stage_run(session=session, stage_run_id=script_id, owner="me", lease_s=60)
    return script_id


def test_the_heartbeat_notices_a_cancel_within_its_check_interval(ctx: WorkerContext) -> None:
    script_id = claimed_stage(ctx)
    with Heartbeat(
        db=ctx.db, stage_run_id=script_id, owner="me", lease_s=60, check_every_s=0.1
    ) as beat:
        time.sleep(0.3)
        assert not beat.is_lost.is_set()
        with ctx.db.session() as session:
            cancel_jobs(session=session, job_ids=[session.get(StageRun, script_id).job_id])
        assert beat.is_lost.wait(2.0)


def test_the_heartbeat_expires_the_job_when_its_deadline_passes(ctx: WorkerContext) -> None:
    script_id = claimed_stage(ctx)
    with ctx.db.session() as session:
        job_id = session.get(StageRun, script_id).job_id
        session.execute(
            update(Job).where(Job.id == job_id).values(deadline=utcnow() - timedelta(seconds=1))
        )
    with Heartbeat(
        db=ctx.db, stage_run_id=script_id, owner="me", lease_s=60, check_every_s=0.1
    ) as beat:
        assert beat.is_lost.wait(2.0)
    with ctx.db.read_session() as session:
        assert session.execute(select(Job.state).where(Job.id == job_id)).scalar_one() == "expired"
        assert session.get(StageRun, script_id).error_class == "expired"
