"""Schedule figures for /metrics, read from the schedule tables at each scrape."""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from producer.ids import as_utc
from producer.metric_families import grouped_counts, labelled_gauge
from schemas.schedules import RunOutcome
from schemas.tables import Schedule, ScheduleRun

# a window, not a total: runs are deleted with their schedule, and a shrinking total would
# read as counter resets; drops run a few times a day, so the window is a day
RECENT = timedelta(hours=24)


def schedule_families(session: Session, *, now: datetime) -> list[Metric]:
    """Runs of the last day by outcome, schedules by state, and how late the most overdue
    active schedule is (no scheduler running)."""
    outcomes = grouped_counts(
        session,
        select(ScheduleRun.outcome, func.count())
        .where(ScheduleRun.claimed_at >= now - RECENT)
        .group_by(ScheduleRun.outcome),
        keys=(o.value for o in RunOutcome),
    )
    paused = grouped_counts(
        session,
        select(Schedule.is_paused, func.count()).group_by(Schedule.is_paused),
        keys=(False, True),
    )
    oldest_due = session.execute(
        select(func.min(Schedule.next_run_at)).where(Schedule.is_paused.is_(False))
    ).scalar_one_or_none()
    overdue_s = max(0.0, (now - as_utc(oldest_due)).total_seconds()) if oldest_due else 0.0
    overdue = GaugeMetricFamily(
        "mediaq_schedule_overdue_seconds",
        "How long the earliest due run of an active schedule has waited to be claimed; above "
        "MEDIAQ_SCHEDULER_POLL_S for long, no scheduler is running.",
    )
    overdue.add_metric([], overdue_s)
    return [
        labelled_gauge(
            "mediaq_schedule_runs_recent",
            "Schedule runs claimed in the last 24 hours, by outcome (claimed: being produced now).",
            label="outcome",
            values=outcomes,
        ),
        labelled_gauge(
            "mediaq_schedules",
            "Schedules by state.",
            label="state",
            values={"active": paused[False], "paused": paused[True]},
        ),
        overdue,
    ]
