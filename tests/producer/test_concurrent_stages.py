"""Two stages of one job finishing at the same moment, on PostgreSQL (read committed).

Each completion updates its own stage row, then reads the job's stages to queue what became
ready and to derive the job's state. Without a lock, each transaction reads the other's stage
as still running: the stage they both feed is never queued, or the job never finishes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

import producer.crud as crud
from producer.db import Database
from producer.ids import utcnow
from producer.migrate import upgrade
from producer.submission import create_batch
from schemas.api import BatchSpec
from schemas.pipelines import builtin_templates
from schemas.tables import Job, StageRun
from tests.producer.test_api_batches import news_items

pytestmark = pytest.mark.postgres


@pytest.fixture
def db(postgres_url: str) -> Iterator[Database]:
    upgrade(postgres_url)
    database = Database(postgres_url)
    yield database
    database.dispose()


def one_job(db: Database) -> tuple[str, dict[str, Any]]:
    """A news_anchor job; its stage rows by name."""
    spec = BatchSpec(template="news_anchor", items=news_items()[:1])
    with db.session() as session:
        accepted = create_batch(
            session=session,
            tenant_id="t-race",
            spec=spec,
            template=builtin_templates()["news_anchor"],
            idempotency=None,
        )
    job_id = accepted.response.jobs[0].id
    with db.read_session() as session:
        rows = session.execute(select(StageRun).where(StageRun.job_id == job_id)).scalars()
        return job_id, {row.name: row for row in rows}


def arrange(db: Database, job_id: str, *, running: set[str], pending: set[str]) -> None:
    """`running` stages held by owner = their name, `pending` ones waiting, the rest done
    (with the timestamps real runs leave: the database is shared with other tests)."""
    now = utcnow()
    with db.session() as session:
        for name in running:
            session.execute(
                update(StageRun)
                .where(StageRun.job_id == job_id, StageRun.name == name)
                .values(state="running", lease_owner=name, started_at=now)
            )
        session.execute(
            update(StageRun)
            .where(StageRun.job_id == job_id, StageRun.name.in_(pending))
            .values(state="pending")
        )
        session.execute(
            update(StageRun)
            .where(StageRun.job_id == job_id, StageRun.name.not_in(running | pending))
            .values(state="succeeded", started_at=now, finished_at=now)
        )
        session.execute(update(Job).where(Job.id == job_id).values(state="running"))


def finish_together(
    db: Database, stages: dict[str, Any], names: list[str], monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """Complete the named stages in parallel transactions that both reach the job at once."""
    barrier = threading.Barrier(len(names), timeout=5)
    advance = crud._advance_job

    def together(**kwargs: Any) -> Any:
        barrier.wait()  # both stage rows are updated, neither transaction has committed
        return advance(**kwargs)

    monkeypatch.setattr(crud, "_advance_job", together)
    queued: list[str] = []
    errors: list[BaseException] = []

    def finish(name: str) -> None:
        try:
            with db.session() as session:
                messages = crud.complete_stage_run(
                    session=session,
                    stage_run_id=stages[name].id,
                    owner=name,
                    outputs={},
                    cache_key=f"key-{name}",
                    is_cache_hit=False,
                    engine_version="test",
                )
            assert messages is not None
            queued.extend(message.stage_run_id for message in messages)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=finish, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return queued


def last_two_and_fan_in(stages: dict[str, Any]) -> tuple[list[str], str, list[str]]:
    """The two stages nothing depends on, and a stage fed by two others with its feeders."""
    needed = {dep for row in stages.values() for dep in row.depends_on}
    last = sorted(name for name in stages if name not in needed)
    fan_in = next(name for name, row in stages.items() if len(row.depends_on) == 2)
    return last, fan_in, sorted(stages[fan_in].depends_on)


def test_the_last_two_stages_finishing_at_once_finish_the_job(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, stages = one_job(db)
    last, _, _ = last_two_and_fan_in(stages)
    assert len(last) == 2, last
    arrange(db, job_id, running=set(last), pending=set())
    assert finish_together(db, stages, last, monkeypatch) == []
    with db.read_session() as session:
        job = session.get(Job, job_id)
        assert job.state == "succeeded" and job.finished_at is not None


def test_two_feeders_finishing_at_once_queue_their_stage_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, stages = one_job(db)
    _, fan_in, feeders = last_two_and_fan_in(stages)
    downstream = {fan_in} | {
        name
        for name, row in stages.items()
        if name != fan_in and fan_in in _ancestors(stages, name)
    }
    arrange(db, job_id, running=set(feeders), pending=downstream)
    queued = finish_together(db, stages, feeders, monkeypatch)
    assert queued == [stages[fan_in].id]
    with db.read_session() as session:
        assert session.get(StageRun, stages[fan_in].id).state == "queued"


def _ancestors(stages: dict[str, Any], name: str) -> set[str]:
    found: set[str] = set()
    todo = list(stages[name].depends_on)
    while todo:
        dep = todo.pop()
        if dep not in found:
            found.add(dep)
            todo.extend(stages[dep].depends_on)
    return found
