"""Redis transport options: the visibility timeout from settings, swept well within it."""

from __future__ import annotations

from producer.broker import celery_config
from producer.settings import Settings


def redis_options(**values: float) -> dict[str, object]:
    settings = Settings(broker_url="redis://127.0.0.1:6379/0", **values)
    return dict(celery_config(settings)["broker_transport_options"])


def test_the_default_visibility_timeout_is_hours_and_swept_every_minute() -> None:
    options = redis_options()
    assert options["visibility_timeout"] == 4 * 3600
    assert (options["unacked_restore_interval"], options["unacked_restore_throttle"]) == (60, 1)


def test_a_short_visibility_timeout_is_swept_at_least_every_second() -> None:
    options = redis_options(broker_visibility_timeout_s=2.0)
    assert options["visibility_timeout"] == 2.0
    assert options["unacked_restore_interval"] == 1
