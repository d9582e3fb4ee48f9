"""The scheduler: exactly-once firing with two schedulers, missed runs, incremental feeds.

Time is injected (a clock the test moves), so no test waits for a cron minute.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import delete, select, update

from producer.broker import make_celery
from producer.db import Database
from producer.objectstore import open_object_store
from producer.schedule_runs import Claim, LostClaim, fire, plan_runs, reclaim_stale
from producer.scheduler import Scheduler
from producer.schedules import create_schedule
from producer.settings import Settings
from schemas.schedules import ScheduleSpec
from schemas.tables import Batch, Event, Job, Schedule, ScheduleRun
from tests.producer.test_api_batches import news_items

# a Monday, later than any real clock here: deadlines computed from it are in the future
T0 = datetime(2030, 3, 4, 5, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_scheduler(settings: Settings, clock: Clock) -> Scheduler:
    """A scheduler with its own engine and pool, as a separate process would have."""
    return Scheduler(
        db=Database(settings.resolved_database_url()),
        store=open_object_store(settings.resolved_storage_url()),
        celery=make_celery(settings, name="test-scheduler"),
        settings=settings,
        clock=clock,
    )


def add_schedule(settings: Settings, *, tenant: str, now: datetime, **fields: Any) -> str:
    spec = ScheduleSpec.model_validate(
        {"name": "drop", "template": "voiceover", "items": news_items()[:2]} | fields
    )
    db = Database(settings.resolved_database_url())
    try:
        with db.session() as session:
            return create_schedule(session=session, tenant_id=tenant, spec=spec, now=now).id
    finally:
        db.dispose()


def runs_of(settings: Settings, schedule_id: str) -> list[ScheduleRun]:
    db = Database(settings.resolved_database_url())
    try:
        with db.read_session() as session:
            return list(
                session.execute(
                    select(ScheduleRun)
                    .where(ScheduleRun.schedule_id == schedule_id)
                    .order_by(ScheduleRun.scheduled_for)
                ).scalars()
            )
    finally:
        db.dispose()


def schedule_events(settings: Settings, schedule_id: str) -> list[dict[str, Any]]:
    db = Database(settings.resolved_database_url())
    try:
        with db.read_session() as session:
            rows = session.execute(
                select(Event.data).where(Event.type == "schedule.run").order_by(Event.id)
            ).scalars()
            return [data for data in rows if data["schedule_id"] == schedule_id]
    finally:
        db.dispose()


def batches_of(settings: Settings, tenant: str) -> list[Batch]:
    db = Database(settings.resolved_database_url())
    try:
        with db.read_session() as session:
            return list(session.execute(select(Batch).where(Batch.tenant_id == tenant)).scalars())
    finally:
        db.dispose()


def as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def tick_together(schedulers: list[Scheduler]) -> None:
    """Run one pass of every scheduler at the same moment, each in its own thread."""
    barrier = threading.Barrier(len(schedulers))
    errors: list[BaseException] = []

    def one(scheduler: Scheduler) -> None:
        barrier.wait()
        try:
            scheduler.run_once()
        except BaseException as error:  # reported below: a thread swallows it otherwise
            errors.append(error)

    threads = [threading.Thread(target=one, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def check_exactly_once(settings: Settings) -> None:
    # Given a schedule firing every 5 minutes and two schedulers on one database
    tenant = f"t-{uuid4().hex[:8]}"
    schedule_id = add_schedule(settings, tenant=tenant, now=T0, cron="*/5 * * * *")
    clock = Clock(T0)
    schedulers = [make_scheduler(settings, clock), make_scheduler(settings, clock)]
    try:
        # When both tick together every minute for 16 minutes (including the 3 fire times)
        for minute in range(1, 17):
            clock.now = T0 + timedelta(minutes=minute, seconds=1)
            tick_together(schedulers)
    finally:
        for scheduler in schedulers:
            scheduler.firing.db.dispose()
    # Then each scheduled time fired once, with one batch each
    runs = runs_of(settings, schedule_id)
    expected = [T0 + timedelta(minutes=m) for m in (5, 10, 15)]
    assert [as_utc(r.scheduled_for) for r in runs] == expected
    assert {r.outcome for r in runs} == {"created"}
    batches = batches_of(settings, tenant)
    assert sorted(b.id for b in batches) == sorted(r.batch_id for r in runs)  # type: ignore[misc]
    assert sorted(b.meta["scheduled_for"] for b in batches) == [
        t.isoformat().replace("+00:00", "Z") for t in expected
    ]


def test_two_schedulers_fire_each_run_exactly_once_on_sqlite(embedded_settings: Settings) -> None:
    check_exactly_once(embedded_settings)


@pytest.fixture
def postgres_settings(postgres_url: str, tmp_path: Path) -> Iterator[Settings]:
    from producer.migrate import upgrade

    settings = Settings(
        data_dir=tmp_path / "data", database_url=postgres_url, broker_url="", storage_url=""
    )
    settings.data_dir.mkdir(parents=True)
    upgrade(postgres_url)
    yield settings
    db = Database(postgres_url)
    try:  # no reconciler of a later test should re-send these stages
        with db.session() as session:
            session.execute(delete(Batch).where(Batch.tenant_id.like("t-%")))
            session.execute(delete(Schedule).where(Schedule.tenant_id.like("t-%")))
    finally:
        db.dispose()


@pytest.mark.postgres
def test_two_schedulers_fire_each_run_exactly_once_on_postgres(
    postgres_settings: Settings,
) -> None:
    check_exactly_once(postgres_settings)


def test_runs_missed_while_no_scheduler_ran_are_skipped_and_the_next_fires_on_time(
    embedded_settings: Settings,
) -> None:
    schedule_id = add_schedule(embedded_settings, tenant="t-skip", now=T0, cron="0 * * * *")
    clock = Clock(T0 + timedelta(hours=5, minutes=1))  # 06:00-09:00 missed, 10:00 is on time
    scheduler = make_scheduler(embedded_settings, clock)
    try:
        scheduler.run_once()
        clock.now = T0 + timedelta(hours=9, minutes=30)  # 11:00-14:00 missed: past the grace
        scheduler.run_once()
    finally:
        scheduler.firing.db.dispose()
    runs = runs_of(embedded_settings, schedule_id)
    assert [(as_utc(r.scheduled_for), r.outcome, r.missed_runs) for r in runs] == [
        (T0 + timedelta(hours=1), "skipped_missed", 4),
        (T0 + timedelta(hours=5), "created", 0),
        (T0 + timedelta(hours=6), "skipped_missed", 4),
    ]
    assert len(batches_of(embedded_settings, "t-skip")) == 1


def test_catch_up_once_fires_one_run_for_the_whole_missed_window(
    embedded_settings: Settings,
) -> None:
    schedule_id = add_schedule(
        embedded_settings,
        tenant="t-catch",
        now=T0,
        cron="0 * * * *",
        missed_runs="catch_up_once",
        deadline_offset=1800,
    )
    clock = Clock(T0 + timedelta(hours=5, minutes=30))
    scheduler = make_scheduler(embedded_settings, clock)
    try:
        scheduler.run_once()
        scheduler.run_once()  # nothing more is due
    finally:
        scheduler.firing.db.dispose()
    (run,) = runs_of(embedded_settings, schedule_id)
    assert (as_utc(run.scheduled_for), run.outcome, run.missed_runs) == (
        T0 + timedelta(hours=5),
        "created",
        5,
    )
    (batch,) = batches_of(embedded_settings, "t-catch")
    assert batch.id == run.batch_id
    db = Database(embedded_settings.resolved_database_url())
    try:
        with db.read_session() as session:
            deadlines = session.execute(select(Job.deadline).where(Job.batch_id == batch.id))
            # the scheduled time + 30 min has passed: the late run gets 30 min from now
            assert {as_utc(d) for (d,) in deadlines} == {clock.now + timedelta(minutes=30)}
            schedule = session.get(Schedule, schedule_id)
            assert schedule is not None
            assert as_utc(schedule.next_run_at) == T0 + timedelta(hours=6)  # type: ignore[arg-type]
    finally:
        db.dispose()


def test_a_paused_schedule_does_not_fire_and_resumes_from_now(embedded_settings: Settings) -> None:
    from producer.schedules import set_paused

    schedule_id = add_schedule(embedded_settings, tenant="t-pause", now=T0, cron="0 * * * *")
    db = Database(embedded_settings.resolved_database_url())
    clock = Clock(T0 + timedelta(hours=1, seconds=5))
    scheduler = make_scheduler(embedded_settings, clock)
    try:
        with db.session() as session:
            schedule = session.get(Schedule, schedule_id)
            assert schedule is not None
            set_paused(schedule=schedule, is_paused=True, now=T0)
        scheduler.run_once()
        assert runs_of(embedded_settings, schedule_id) == []
        with db.session() as session:
            schedule = session.get(Schedule, schedule_id)
            assert schedule is not None
            set_paused(schedule=schedule, is_paused=False, now=T0 + timedelta(hours=3, minutes=1))
        clock.now = T0 + timedelta(hours=4, seconds=5)
        scheduler.run_once()
    finally:
        scheduler.firing.db.dispose()
        db.dispose()
    runs = runs_of(embedded_settings, schedule_id)
    assert [(as_utc(r.scheduled_for), r.outcome) for r in runs] == [
        (T0 + timedelta(hours=4), "created")
    ]


def test_a_run_left_claimed_by_a_stopped_scheduler_is_taken_over_once(
    embedded_settings: Settings,
) -> None:
    # Given a scheduler that claimed a run and stopped before producing it
    schedule_id = add_schedule(embedded_settings, tenant="t-stale", now=T0, cron="0 * * * *")
    clock = Clock(T0 + timedelta(hours=1, seconds=5))
    first = make_scheduler(embedded_settings, clock)
    second = make_scheduler(embedded_settings, clock)
    try:
        from producer.schedule_runs import claim_due

        (old_claim,) = claim_due(db=first.firing.db, now=clock.now, settings=embedded_settings)
        # When another scheduler ticks within the lease, then after it
        assert second.run_once() == 0
        clock.now += timedelta(seconds=embedded_settings.lease_s + 1)
        assert second.run_once() == 1
        # Then the first scheduler, waking up late, cannot commit a second batch
        with pytest.raises(LostClaim):
            fire(firing=first.firing, claim=old_claim, now=clock.now)
        assert reclaim_stale(db=first.firing.db, now=clock.now, settings=embedded_settings) == []
    finally:
        first.firing.db.dispose()
        second.firing.db.dispose()
    (run,) = runs_of(embedded_settings, schedule_id)
    assert run.outcome == "created"
    assert len(batches_of(embedded_settings, "t-stale")) == 1


def test_plan_runs_within_the_grace_fires_the_due_run_alone() -> None:
    plan = plan_runs(
        cron="30 6 * * 1-5",
        timezone="Europe/Berlin",
        due=datetime(2026, 3, 2, 5, 30, tzinfo=UTC),
        now=datetime(2026, 3, 2, 5, 32, tzinfo=UTC),
        grace_s=300,
        policy="skip",
    )
    assert plan.fire_at == datetime(2026, 3, 2, 5, 30, tzinfo=UTC) and plan.missed_count == 0
    assert plan.next_run_at == datetime(2026, 3, 3, 5, 30, tzinfo=UTC)


# --- Feeds: only new or changed items become jobs ------------------------------------------------


class FeedHandler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[tuple[str, type[FeedHandler]]]:
    handler = type("Handler", (FeedHandler,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/feed.jsonl", handler
    server.shutdown()
    server.server_close()


def as_jsonl(items: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(item) + "\n" for item in items).encode()


def job_custom_ids(settings: Settings, batch_id: str | None) -> list[str]:
    db = Database(settings.resolved_database_url())
    try:
        with db.read_session() as session:
            rows = session.execute(
                select(Job.custom_id).where(Job.batch_id == batch_id).order_by(Job.position)
            )
            return [custom_id for (custom_id,) in rows]
    finally:
        db.dispose()


def test_a_feed_run_makes_jobs_only_for_new_or_changed_items(
    embedded_settings: Settings, feed_server: tuple[str, type[FeedHandler]]
) -> None:
    from fastapi.testclient import TestClient

    from producer.main import create_app
    from tests.conftest import make_key

    # Given a feed served locally (the private-network escape hatch is on)
    url, handler = feed_server
    settings = embedded_settings.model_copy(update={"fetch_allow_private_networks": True})
    items = news_items()[:3]
    handler.body = as_jsonl(items)
    key = make_key(settings)
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {key}"}) as client:
        made = client.post(
            "/v1/schedules",
            json={"name": "feed", "cron": "0 * * * *", "template": "voiceover", "feed": url},
        )
        assert made.status_code == 201, made.text
        schedule_id = made.json()["id"]
        db = Database(settings.resolved_database_url())
        with db.session() as session:  # due now, as if created an hour ago
            session.execute(
                update(Schedule).where(Schedule.id == schedule_id).values(next_run_at=T0)
            )
        db.dispose()
        clock = Clock(T0 + timedelta(seconds=5))
        scheduler = make_scheduler(settings, clock)
        try:
            # When it runs, the feed changes one row and adds one, and it runs twice more
            scheduler.run_once()
            changed = items[1] | {"headline": items[1]["headline"] + " (updated)"}
            handler.body = as_jsonl([items[0], changed, items[2], news_items()[3]])
            clock.now += timedelta(hours=1)
            scheduler.run_once()
            clock.now += timedelta(hours=1)
            scheduler.run_once()
        finally:
            scheduler.firing.db.dispose()
        listed = client.get(f"/v1/schedules/{schedule_id}/runs").json()["runs"]
    # Then the first run made every item, the second only the changed and new ones, the third none
    first, second, third = runs_of(settings, schedule_id)
    assert (first.outcome, first.item_count) == ("created", 3)
    assert job_custom_ids(settings, first.batch_id) == [i["custom_id"] for i in items]
    assert (second.outcome, second.item_count) == ("created", 2)
    assert job_custom_ids(settings, second.batch_id) == [
        items[1]["custom_id"],
        news_items()[3]["custom_id"],
    ]
    assert (third.outcome, third.batch_id) == ("skipped_no_new_items", None)
    assert [r["outcome"] for r in listed] == ["skipped_no_new_items", "created", "created"]


def test_an_unreachable_feed_records_a_failed_run(embedded_settings: Settings) -> None:
    # the escape hatch is off: a loopback feed is refused by the address checks
    schedule_id = add_schedule(
        embedded_settings,
        tenant="t-feed-refused",
        now=T0,
        cron="0 * * * *",
        items=None,
        feed="https://127.0.0.1:9/feed.jsonl",
    )
    scheduler = make_scheduler(embedded_settings, Clock(T0 + timedelta(hours=1, seconds=1)))
    try:
        scheduler.run_once()
    finally:
        scheduler.firing.db.dispose()
    (run,) = runs_of(embedded_settings, schedule_id)
    assert run.outcome == "failed" and "not a public address" in (run.error or "")
    # and the failure is reported as a schedule.run event
    (event,) = schedule_events(embedded_settings, schedule_id)
    assert event["outcome"] == "failed" and event["batch_id"] is None
    assert event["error"] == run.error


def test_an_inbox_prefix_reads_its_jsonl_and_csv_files(embedded_settings: Settings) -> None:
    folder = Path(embedded_settings.resolved_storage_url().removeprefix("file://"))
    inbox = folder / "inbox" / "t-inbox" / "drops"
    inbox.mkdir(parents=True)
    items = news_items()[:2]
    (inbox / "a.jsonl").write_bytes(as_jsonl(items[:1]))
    (inbox / "ignored.txt").write_text("not read")
    header = "custom_id,language,headline,body\n"
    item = items[1]
    (inbox / "b.csv").write_text(
        header + f"{item['custom_id']},{item['language']},{item['headline']!r},x\n"
    )
    schedule_id = add_schedule(
        embedded_settings, tenant="t-inbox", now=T0, cron="0 * * * *", items=None, prefix="drops"
    )
    scheduler = make_scheduler(embedded_settings, Clock(T0 + timedelta(hours=1, seconds=1)))
    try:
        scheduler.run_once()
    finally:
        scheduler.firing.db.dispose()
    (run,) = runs_of(embedded_settings, schedule_id)
    assert run.outcome == "created", run.error
    assert job_custom_ids(embedded_settings, run.batch_id) == [i["custom_id"] for i in items]


def test_claims_are_unique_per_scheduled_time(embedded_settings: Settings) -> None:
    from sqlalchemy.exc import IntegrityError

    from producer.schedule_runs import claim_manual

    schedule_id = add_schedule(embedded_settings, tenant="t-unique", now=T0, cron="0 * * * *")
    db = Database(embedded_settings.resolved_database_url())
    try:
        with db.session() as session:
            schedule = session.get(Schedule, schedule_id)
            assert schedule is not None
            claim_manual(session=session, schedule=schedule, now=T0)
        with pytest.raises(IntegrityError), db.session() as session:
            schedule = session.get(Schedule, schedule_id)
            assert schedule is not None
            claim_manual(session=session, schedule=schedule, now=T0)
    finally:
        db.dispose()
    assert isinstance(Claim(run_id="a", token="b"), Claim)


def test_the_scheduler_thread_fires_due_runs_until_stopped(embedded_settings: Settings) -> None:
    import time

    settings = embedded_settings.model_copy(update={"scheduler_poll_s": 0.01})
    schedule_id = add_schedule(settings, tenant="t-loop", now=T0, cron="0 * * * *")
    clock = Clock(T0 + timedelta(hours=1, seconds=1))
    scheduler = make_scheduler(settings, clock)
    scheduler.start()
    try:
        deadline = time.monotonic() + 30
        while not runs_of(settings, schedule_id) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
        scheduler.join(timeout=30)
        scheduler.firing.db.dispose()
    assert not scheduler.is_alive()
    assert [r.outcome for r in runs_of(settings, schedule_id)] == ["created"]


def test_mediaq_scheduler_is_a_command() -> None:
    from producer.cli import build_parser, cmd_scheduler

    assert build_parser().parse_args(["scheduler"]).handler is cmd_scheduler
