"""The reconciler re-sends a queued stage soon when the broker is empty, later when it is busy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from producer.backlog import BACKLOG_FACTOR, waiting_messages
from producer.broker import RUN_STAGE_TASK, make_celery
from producer.crud import claim_stage_run
from producer.db import Database
from producer.ids import utcnow
from producer.reconciler import reconcile_once
from producer.settings import Settings
from producer.submission import create_batch
from schemas.api import BatchSpec
from schemas.pipelines import builtin_templates
from schemas.tables import StageRun

ITEM = {"custom_id": "a1", "language": "en", "headline": "Bridge reopens", "body": "It did."}


@pytest.fixture
def db(embedded_settings: Settings) -> Iterator[Database]:
    database = Database(embedded_settings.resolved_database_url())
    yield database
    database.dispose()


def queued_stage_aged(db: Database, *, age_s: float) -> None:
    """A voiceover batch whose ready stage has been `queued` for `age_s` (message lost or not)."""
    with db.session() as session:
        create_batch(
            session=session,
            tenant_id="default",
            spec=BatchSpec(template="voiceover", items=[ITEM]),
            template=builtin_templates()["voiceover"],
            idempotency=None,
        )
    with db.session() as session:
        session.execute(
            update(StageRun)
            .where(StageRun.state == "queued")
            .values(queued_at=utcnow() - timedelta(seconds=age_s))
        )


def test_a_queued_stage_is_resent_after_the_timeout_when_the_queue_is_empty(
    embedded_settings: Settings, db: Database
) -> None:
    app = make_celery(embedded_settings)
    queued_stage_aged(db, age_s=embedded_settings.requeue_after_s + 1)
    assert waiting_messages(app=app, queues=["cpu"]) == {"cpu": 0}
    assert reconcile_once(db=db, app=app, settings=embedded_settings) == 1
    assert waiting_messages(app=app, queues=["cpu"]) == {"cpu": 1}


def test_a_queued_stage_waits_longer_while_the_queue_holds_a_backlog(
    embedded_settings: Settings, db: Database
) -> None:
    # Given a stage queued past the timeout, behind messages still waiting in the broker
    app = make_celery(embedded_settings)
    for _ in range(3):
        app.send_task(RUN_STAGE_TASK, args=["0" * 32], queue="cpu")
    queued_stage_aged(db, age_s=embedded_settings.requeue_after_s + 1)
    # When the reconciler runs, Then it does not add a duplicate to the busy queue
    assert reconcile_once(db=db, app=app, settings=embedded_settings) == 0
    assert waiting_messages(app=app, queues=["cpu"]) == {"cpu": 3}
    # But a stage queued BACKLOG_FACTOR times the timeout is re-sent even so
    with db.session() as session:
        stale = utcnow() - timedelta(seconds=embedded_settings.requeue_after_s * BACKLOG_FACTOR + 1)
        session.execute(update(StageRun).where(StageRun.state == "queued").values(queued_at=stale))
    assert reconcile_once(db=db, app=app, settings=embedded_settings) == 1


def test_a_dead_runners_stage_is_resent_once_not_on_every_pass(
    embedded_settings: Settings, db: Database
) -> None:
    # Given a stage claimed by a runner that died: its lease has expired
    app = make_celery(embedded_settings)
    queued_stage_aged(db, age_s=0)
    with db.session() as session:
        (stage_id,) = session.execute(select(StageRun.id).where(StageRun.state == "queued")).one()
        assert claim_stage_run(session=session, stage_run_id=stage_id, owner="dead", lease_s=60)
        expired = utcnow() - timedelta(seconds=1)
        session.execute(
            update(StageRun).where(StageRun.id == stage_id).values(lease_expires_at=expired)
        )
    # When the reconciler runs twice before any worker is free to take the message
    assert reconcile_once(db=db, app=app, settings=embedded_settings) == 1
    assert reconcile_once(db=db, app=app, settings=embedded_settings) == 0
    # Then the stage is queued again with its lease released, and one message waits for it
    with db.read_session() as session:
        stage = session.get(StageRun, stage_id)
        assert (stage.state, stage.lease_owner) == ("queued", None)
    assert waiting_messages(app=app, queues=["cpu"]) == {"cpu": 1}
