"""Schedule figures on /metrics: recent runs by outcome, schedules by state, overdue time."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from producer.ids import utcnow
from schemas.tables import Schedule
from tests.producer.test_api_batches import news_items
from tests.producer.test_api_schedules import create
from tests.producer.test_metrics import scrape, values


def test_schedule_runs_states_and_lateness_are_scraped(api_client: TestClient) -> None:
    # Given a schedule run now twice (once created, once failed), and a paused one
    made = create(api_client, cron="* * * * *", items=news_items()[:1])
    assert api_client.post(f"/v1/schedules/{made['id']}/run").json()["outcome"] == "created"
    settings = api_client.app.state.services.settings
    settings.max_items = 0  # the next run's items are refused: a failed run
    assert api_client.post(f"/v1/schedules/{made['id']}/run").json()["outcome"] == "failed"
    settings.max_items = 50_000
    paused = create(api_client)
    assert api_client.post(f"/v1/schedules/{paused['id']}/pause").status_code == 200
    # and the active schedule's next run two minutes overdue, as with no scheduler running
    with api_client.app.state.services.db.session() as session:
        session.execute(
            update(Schedule)
            .where(Schedule.id == made["id"])
            .values(next_run_at=utcnow() - timedelta(minutes=2))
        )
    # When /metrics is scraped
    families = scrape(api_client)
    # Then
    runs = values(families["mediaq_schedule_runs_recent"])
    assert runs[("created",)] == 1 and runs[("failed",)] == 1 and runs[("claimed",)] == 0
    assert values(families["mediaq_schedules"]) == {("active",): 1, ("paused",): 1}
    (overdue_s,) = values(families["mediaq_schedule_overdue_seconds"]).values()
    assert 120 <= overdue_s < 180
