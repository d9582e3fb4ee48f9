"""A stage whose database is unreachable is retried by the task, not dropped."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

import workers.tasks as tasks
from workers.runner import RunOutcome


def test_an_unreachable_database_retries_the_stage_with_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a database that refuses the first two connections
    calls: list[str] = []

    def flaky(stage_run_id: str, ctx: Any) -> RunOutcome:
        calls.append(stage_run_id)
        if len(calls) <= 2:
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        return RunOutcome("succeeded", stage_run_id, "")

    delays: list[float] = []
    real_delay = tasks.retry_delay_s
    monkeypatch.setattr(tasks, "_run_logged", flaky)
    monkeypatch.setattr(tasks, "get_context", lambda app: None)
    monkeypatch.setattr(tasks, "retry_delay_s", lambda n: delays.append(real_delay(n)) or 0.0)
    # When the task runs (eagerly: a retry runs again at once, in this process)
    result = tasks.run_stage_task.apply(args=["stage-1"])
    # Then it ran three times and succeeded, with growing waits between the tries
    assert result.get() == "succeeded"
    assert calls == ["stage-1"] * 3
    assert len(delays) == 2 and 0.8 <= delays[0] <= 1.2 and 1.6 <= delays[1] <= 2.4


def test_other_errors_are_not_retried_by_the_task(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(stage_run_id: str, ctx: Any) -> RunOutcome:
        raise ValueError("a bug")

    monkeypatch.setattr(tasks, "_run_logged", broken)
    monkeypatch.setattr(tasks, "get_context", lambda app: None)
    result = tasks.run_stage_task.apply(args=["stage-2"])
    assert isinstance(result.result, ValueError)


def test_the_wait_grows_to_a_ceiling() -> None:
    assert all(
        tasks.DB_RETRY_MAX_S * 0.8 <= tasks.retry_delay_s(n) <= tasks.DB_RETRY_MAX_S * 1.2
        for n in (5, 10, 50)
    )
