"""Five-field cron expressions in an IANA time zone: parsing and the next fire time, DST-aware.

Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or JAN-DEC), day of week
(0-7 or SUN-SAT; 0 and 7 are Sunday). Each field is `*`, a number, a range `a-b`, a step `*/n`,
`a-b/n` or `a/n`, or a comma list of those. When both day fields are restricted a day matches
if either does (as in Vixie cron). Shorthands: @yearly @annually @monthly @weekly @daily
@midnight @hourly.

Daylight saving time, decided once here so every scheduler agrees:
- a wall time that does not exist (02:30 on a spring-forward day) fires once, at the instant the
  clock would show it had it not jumped (03:30 new time): the run is late, not lost;
- a wall time that happens twice (01:30 on a fall-back day) fires once, at its first occurrence;
  only an expression whose hour field is `*` also fires in the repeated hour, because "every 15
  minutes" means every 15 minutes of real time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
SHORTHANDS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# Feb 29 on a Monday can be 28 years away; a search longer than that means "never".
SEARCH_DAYS = 366 * 29


class CronError(ValueError):
    """The expression or time zone is not usable; the message says which part and why."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, tuple(MONTHS), 1),
    _Field("day of week", 0, 7, tuple(DAYS), 0),
)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed expression. Build it with `parse_cron`."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    is_day_restricted: bool
    is_weekday_restricted: bool
    is_every_hour: bool

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = (day.isoweekday() % 7) in self.weekdays
        if self.is_day_restricted and self.is_weekday_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays


def parse_cron(expression: str) -> CronSchedule:
    """Parse a five-field expression or a shorthand.

    Raises:
        CronError: naming the field and the bad part, e.g. "hour: 24 is outside 0-23".
    """
    text = SHORTHANDS.get(expression.strip().lower(), expression.strip())
    parts = text.split()
    if len(parts) != 5:
        raise CronError(
            f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}"
        )
    values = [_parse_field(part, spec) for part, spec in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(0 if day == 7 else day for day in values[4])
    schedule = CronSchedule(
        expression=" ".join(parts),
        minutes=tuple(sorted(values[0])),
        hours=tuple(sorted(values[1])),
        days=frozenset(values[2]),
        months=frozenset(values[3]),
        weekdays=weekdays,
        is_day_restricted=not parts[2].startswith("*"),
        is_weekday_restricted=not parts[4].startswith("*"),
        is_every_hour=parts[1] == "*",
    )
    if not _has_possible_day(schedule):
        raise CronError(f"{schedule.expression!r} names a day that never occurs")
    return schedule


def _has_possible_day(schedule: CronSchedule) -> bool:
    longest = {2: 29, 4: 30, 6: 30, 9: 30, 11: 30}
    if schedule.is_weekday_restricted and schedule.is_day_restricted:
        return True
    return any(day <= longest.get(month, 31) for month in schedule.months for day in schedule.days)


def _parse_field(text: str, spec: _Field) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        values |= _parse_part(part, spec)
    return values


def _parse_part(part: str, spec: _Field) -> set[int]:
    if not part:
        raise CronError(f"{spec.name}: empty list element")
    body, _, step_text = part.partition("/")
    step = 1
    if step_text:
        if not _is_number(step_text) or int(step_text) == 0:
            raise CronError(f"{spec.name}: step {step_text!r} is not a positive number")
        step = int(step_text)
    if body == "*":
        low, high = spec.low, spec.high
    elif "-" in body:
        start, _, end = body.partition("-")
        low, high = _value(start, spec), _value(end, spec)
        if low > high:
            raise CronError(f"{spec.name}: range {body!r} runs backwards")
    else:
        low = _value(body, spec)
        high = spec.high if step_text else low  # "5/15" means 5-max/15
    return set(range(low, high + 1, step))


def _value(text: str, spec: _Field) -> int:
    upper = text.upper()
    if upper in spec.names:
        return spec.names.index(upper) + spec.name_base
    if not _is_number(text):
        raise CronError(f"{spec.name}: {text!r} is not a number")
    number = int(text)
    if not spec.low <= number <= spec.high:
        raise CronError(f"{spec.name}: {number} is outside {spec.low}-{spec.high}")
    return number


def _is_number(text: str) -> bool:
    # ASCII digits only: str.isdigit() also takes "²" and other digits int() refuses
    return text.isascii() and text.isdigit() and len(text) <= 4


def load_zone(name: str) -> ZoneInfo:
    """The IANA zone, e.g. "Europe/Berlin".

    Raises:
        CronError: not a known zone name.
    """
    if not name or "\x00" in name or name.startswith(("/", ".")) or ".." in name:
        raise CronError(f"{name!r} is not an IANA time zone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(f"{name!r} is not an IANA time zone name, e.g. Europe/Berlin") from None


def next_fire(schedule: CronSchedule, zone: ZoneInfo, *, after: datetime) -> datetime | None:
    """The first fire instant strictly after `after`, in UTC; None if none within 29 years."""
    after_utc = after.astimezone(UTC)
    day = after_utc.astimezone(zone).date() - timedelta(days=1)
    best: datetime | None = None
    for _ in range(SEARCH_DAYS):
        if schedule.matches_day(day):
            later = [t for t in fire_instants(schedule, zone, day) if t > after_utc]
            if later and (best is None or min(later) < best):
                best = min(later)
        if best is not None and day > best.astimezone(zone).date():
            return best  # the next day was checked too: DST can reorder instants around midnight
        day += timedelta(days=1)
    return best


def fire_instants(schedule: CronSchedule, zone: ZoneInfo, day: date) -> list[datetime]:
    """Every UTC instant at which `schedule` fires on the local `day`, sorted, without repeats."""
    instants: set[datetime] = set()
    for hour in schedule.hours:
        for minute in schedule.minutes:
            wall = datetime.combine(day, time(hour, minute), tzinfo=zone)
            first = wall.astimezone(UTC)  # fold=0: first occurrence, or the pre-jump offset
            instants.add(first)
            second = wall.replace(fold=1).astimezone(UTC)
            is_repeated = second != first and _exists(wall)
            if is_repeated and schedule.is_every_hour:
                instants.add(second)
    return sorted(instants)


def _exists(wall: datetime) -> bool:
    """Whether the local wall time occurs (is not inside a spring-forward gap)."""
    zone = wall.tzinfo
    round_trip = wall.astimezone(UTC).astimezone(zone)
    return round_trip.replace(tzinfo=None) == wall.replace(tzinfo=None)


@dataclass(frozen=True)
class FireWindow:
    """The fire instants in a window: how many, the first and the last (UTC)."""

    count: int
    first: datetime | None
    last: datetime | None


def fire_window(
    schedule: CronSchedule, zone: ZoneInfo, *, after: datetime, until: datetime
) -> FireWindow:
    """Count the fire instants in (after, until] and name the first and last.

    Walks whole local days, so a month-long window of a minutely schedule costs milliseconds
    per day rather than one search per instant.
    """
    after_utc, until_utc = after.astimezone(UTC), until.astimezone(UTC)
    day = after_utc.astimezone(zone).date() - timedelta(days=1)
    last_day = until_utc.astimezone(zone).date() + timedelta(days=1)
    count, first, last = 0, None, None
    while day <= last_day:
        if schedule.matches_day(day):
            for instant in fire_instants(schedule, zone, day):
                if after_utc < instant <= until_utc:
                    count += 1
                    first = instant if first is None else min(first, instant)
                    last = instant if last is None else max(last, instant)
        day += timedelta(days=1)
    return FireWindow(count=count, first=first, last=last)
