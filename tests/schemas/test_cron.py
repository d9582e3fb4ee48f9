"""Cron parsing and next fire times in a time zone, including the DST edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.cron import CronError, fire_window, load_zone, next_fire, parse_cron

NEW_YORK = load_zone("America/New_York")
BERLIN = load_zone("Europe/Berlin")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def fires(expression: str, zone_name: str, *, after: datetime, count: int) -> list[datetime]:
    schedule, zone = parse_cron(expression), load_zone(zone_name)
    times: list[datetime] = []
    cursor = after
    for _ in range(count):
        found = next_fire(schedule, zone, after=cursor)
        assert found is not None
        times.append(found)
        cursor = found
    return times


def test_weekday_0630_in_berlin_skips_the_weekend() -> None:
    # 2026-12-04 is a Friday; Berlin is UTC+1 in winter
    times = fires("30 6 * * 1-5", "Europe/Berlin", after=utc(2026, 12, 4, 6, 0), count=2)
    assert times == [utc(2026, 12, 7, 5, 30), utc(2026, 12, 8, 5, 30)]


def test_next_fire_is_strictly_after_the_given_instant() -> None:
    at = utc(2026, 1, 1, 12, 0)
    assert next_fire(parse_cron("0 12 * * *"), load_zone("UTC"), after=at) == utc(2026, 1, 2, 12)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("*/15 9-10 * * *", utc(2026, 3, 2, 9, 50), utc(2026, 3, 2, 10, 0)),
        ("5/20 * * * *", utc(2026, 3, 2, 9, 26), utc(2026, 3, 2, 9, 45)),
        ("0 0 1 jan,jul *", utc(2026, 3, 2), utc(2026, 7, 1)),
        ("0 0 * * sun", utc(2026, 3, 2), utc(2026, 3, 8)),
        ("0 0 * * 7", utc(2026, 3, 2), utc(2026, 3, 8)),
        ("@hourly", utc(2026, 3, 2, 9, 26), utc(2026, 3, 2, 10)),
        ("0 0 29 2 *", utc(2026, 3, 2), utc(2028, 2, 29)),
    ],
)
def test_fields_ranges_steps_names_and_shorthands(
    expression: str, after: datetime, expected: datetime
) -> None:
    assert next_fire(parse_cron(expression), load_zone("UTC"), after=after) == expected


def test_day_of_month_or_day_of_week_when_both_are_restricted() -> None:
    # the 13th, or any Friday: 2026-03-06 is a Friday, before the 13th
    times = fires("0 0 13 * 5", "UTC", after=utc(2026, 3, 2), count=3)
    assert times == [utc(2026, 3, 6), utc(2026, 3, 13), utc(2026, 3, 20)]


def test_a_0230_run_on_the_spring_forward_day_runs_once_an_hour_late() -> None:
    # New York skips 02:00-03:00 on 2026-03-08: 02:30 EST would be 07:30 UTC = 03:30 EDT
    times = fires("30 2 * * *", "America/New_York", after=utc(2026, 3, 7, 12), count=3)
    assert times == [utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30), utc(2026, 3, 10, 6, 30)]


def test_a_0130_run_on_the_fall_back_day_runs_once_at_the_first_occurrence() -> None:
    # New York repeats 01:00-02:00 on 2026-11-01: first 01:30 is EDT (05:30 UTC)
    times = fires("30 1 * * *", "America/New_York", after=utc(2026, 10, 31, 12), count=2)
    assert times == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]


def test_every_15_minutes_keeps_real_time_through_the_repeated_hour() -> None:
    start = utc(2026, 11, 1, 4, 50)  # 00:50 EDT
    times = fires("*/15 * * * *", "America/New_York", after=start, count=10)
    assert times == [start + timedelta(minutes=10 + 15 * n) for n in range(10)]


def test_every_15_minutes_through_the_spring_gap_has_no_duplicates() -> None:
    start = utc(2026, 3, 8, 6, 50)  # 01:50 EST; 03:00 EDT follows 01:59 EST
    times = fires("*/15 * * * *", "America/New_York", after=start, count=3)
    assert times == [utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 7, 15), utc(2026, 3, 8, 7, 30)]


def test_berlin_spring_and_autumn_each_fire_once() -> None:
    spring = fires("30 2 * * *", "Europe/Berlin", after=utc(2026, 3, 28, 12), count=2)
    assert spring == [utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]
    autumn = fires("30 2 * * *", "Europe/Berlin", after=utc(2026, 10, 24, 12), count=2)
    assert autumn == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_fire_window_counts_names_first_and_last() -> None:
    window = fire_window(
        parse_cron("0 * * * *"), NEW_YORK, after=utc(2026, 3, 1, 0, 30), until=utc(2026, 3, 1, 5)
    )
    assert (window.count, window.first, window.last) == (5, utc(2026, 3, 1, 1), utc(2026, 3, 1, 5))


def test_fire_window_over_a_month_of_minutes_is_fast_enough() -> None:
    window = fire_window(
        parse_cron("* * * * *"), BERLIN, after=utc(2026, 1, 1), until=utc(2026, 1, 31)
    )
    assert window.count == 30 * 24 * 60


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * *", "expected 5 fields"),
        ("60 * * * *", "minute: 60 is outside 0-59"),
        ("* 24 * * *", "hour: 24 is outside 0-23"),
        ("* * 0 * *", "day of month: 0 is outside 1-31"),
        ("* * * 13 *", "month: 13 is outside 1-12"),
        ("* * * * 8", "day of week: 8 is outside 0-7"),
        ("*/0 * * * *", "step '0'"),
        ("5-1 * * * *", "runs backwards"),
        ("a * * * *", "minute: 'a' is not a number"),
        ("\u00b2 * * * *", "is not a number"),
        ("1,,2 * * * *", "empty list element"),
        ("0 0 30 2 *", "never occurs"),
    ],
)
def test_bad_expressions_say_which_field_and_why(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        parse_cron(expression)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "a\x00b"])
def test_unknown_time_zones_are_refused(name: str) -> None:
    with pytest.raises(CronError, match="IANA time zone"):
        load_zone(name)
