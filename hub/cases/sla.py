"""SLA clocks in business time: a team's opening hours in its time zone, and when a case is due.

Pure functions, no database. Opening hours are per weekday, ``{"mon": ["09:00", "18:00"], …}``
in the team's local time (a day left out is closed); none at all means 24x7. Durations are real
elapsed time, so a DST change inside opening hours is counted as the clock on the wall shows it.
"""

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NEAR_BREACH_SHARE = 0.2  # the last fifth of the SLA window (in business time) is near breach
MAX_SCAN_DAYS = 3 * 366  # the longest SLA (90 days) fits with one open day a week and more

HH_MM = re.compile(r"[0-9]{2}:[0-9]{2}")
OpeningHours = dict[str, list[str]]


class SlaClock(StrEnum):
    """When a case's SLA clock starts."""

    customer = "customer"  # when the customer wrote (capped: see ``due_times``)
    routing = "routing"  # when the hub opened the case


@dataclass(frozen=True)
class Schedule:
    """When a team works: a time zone and per-weekday (0 = Monday) opening and closing times."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    days: Mapping[int, tuple[time, time]] | None = None  # None: around the clock

    @classmethod
    def of(cls, timezone: str, hours: Mapping[str, Sequence[str]] | None) -> "Schedule":
        """A schedule from a team's stored zone name and opening hours (both validated)."""
        return cls(zone=zone_named(timezone), days=parse_hours(hours) if hours else None)


def zone_named(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValueError if there is none by that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name, e.g. Europe/Lisbon"
        ) from exc


def parse_hours(hours: Mapping[str, Sequence[str]]) -> dict[int, tuple[time, time]]:
    """Opening hours by weekday number; ValueError naming the first bad day."""
    days: dict[int, tuple[time, time]] = {}
    for day, span in hours.items():
        if day not in WEEKDAYS:
            raise ValueError(f"unknown weekday {day!r}: use {', '.join(WEEKDAYS)}")
        if len(span) != 2:
            raise ValueError(f"{day}: give an opening and a closing time, e.g. 09:00-18:00")
        if not all(HH_MM.fullmatch(part) for part in span):
            raise ValueError(f"{day}: times are HH:MM, not {'-'.join(span)!r}")
        try:
            opens, closes = (time.fromisoformat(part) for part in span)
        except ValueError:
            raise ValueError(f"{day}: no such time as {'-'.join(span)!r}") from None
        if opens >= closes:
            raise ValueError(f"{day}: opens at {opens:%H:%M} but closes at {closes:%H:%M}")
        days[WEEKDAYS.index(day)] = (opens, closes)
    if not days:
        raise ValueError("name at least one open day, or give no hours for 24x7")
    return days


def hours_from_text(text: str) -> OpeningHours | None:
    """Opening hours from a form's text, e.g. ``mon-fri 09:00-18:00; sat 10:00-14:00``; an
    empty text means 24x7. ValueError on anything else."""
    hours: OpeningHours = {}
    for part in filter(None, (p.strip() for p in text.replace("\n", ";").split(";"))):
        try:
            days, span = part.lower().split()
            opens, closes = span.split("-")
        except ValueError:
            raise ValueError(f"{part!r}: write days and hours, e.g. mon-fri 09:00-18:00") from None
        first, _, last = days.partition("-")
        if first not in WEEKDAYS or (last or first) not in WEEKDAYS:
            raise ValueError(f"{part!r}: days are {', '.join(WEEKDAYS)}")
        for index in range(WEEKDAYS.index(first), WEEKDAYS.index(last or first) + 1):
            hours[WEEKDAYS[index]] = [opens, closes]
    if hours:
        parse_hours(hours)
    return hours or None


def hours_as_text(hours: Mapping[str, Sequence[str]] | None) -> str:
    """Opening hours as ``hours_from_text`` reads them, consecutive equal days joined."""
    if not hours:
        return ""
    parts: list[str] = []
    run: list[str] = []
    for day in [*WEEKDAYS, ""]:
        span = list(hours.get(day, [])) if day else []
        if run and (not span or span != list(hours[run[0]])):
            days = run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}"
            parts.append(f"{days} {'-'.join(hours[run[0]])}")
            run = []
        if span:
            run.append(day)
    return "; ".join(parts)


def _open_spans(schedule: Schedule, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The schedule's open spans (UTC) from ``start`` on, the first clipped to ``start``."""
    if schedule.days is None:
        yield start, datetime.max.replace(tzinfo=UTC)
        return
    day: date = start.astimezone(schedule.zone).date()
    for _ in range(MAX_SCAN_DAYS):
        hours = schedule.days.get(day.weekday())
        if hours is not None:
            opens = datetime.combine(day, hours[0], schedule.zone).astimezone(UTC)
            closes = datetime.combine(day, hours[1], schedule.zone).astimezone(UTC)
            if closes > start:
                yield max(opens, start), closes
        day += timedelta(days=1)
    raise ValueError("the schedule has no open time in three years")


def add_business_time(start: datetime, duration: timedelta, schedule: Schedule) -> datetime:
    """When ``duration`` of open time has passed since ``start``. A window that ends exactly at
    closing ends then, not at the next opening."""
    left = duration
    for opens, closes in _open_spans(schedule, start):
        if left <= closes - opens:
            return opens + left
        left -= closes - opens
    raise AssertionError("unreachable: _open_spans ends by raising")  # pragma: no cover


def business_time_between(start: datetime, end: datetime, schedule: Schedule) -> timedelta:
    """How much open time lies between ``start`` and ``end`` (zero if ``end`` is not later)."""
    total = timedelta()
    if end <= start:
        return total
    for opens, closes in _open_spans(schedule, start):
        if opens >= end:
            break
        total += min(closes, end) - opens
    return total


@dataclass(frozen=True)
class DueTimes:
    """When a case enters near breach and when it is due."""

    warn_at: datetime
    due_at: datetime


def due_times(
    *,
    customer_at: datetime,
    received_at: datetime,
    routed_at: datetime,
    window: timedelta,
    clock: SlaClock,
    cap_share: float,
    schedule: Schedule,
) -> DueTimes:
    """Due and near-breach times of a case opened at ``routed_at``.

    On the customer's clock the window starts when the customer wrote, but the business time
    spent before the hub received the item counts for at most ``cap_share`` of the window: an
    old import opens with the rest still to go, never as breached. Time the hub itself held the
    item (a worker backlog, say) counts in full. On the routing clock the window starts at
    ``routed_at``. The last fifth of the window (in business time) is near breach.
    """
    if clock == SlaClock.routing:
        start, spent = routed_at, timedelta()
    else:
        start = received_at
        spent = min(business_time_between(customer_at, received_at, schedule), window * cap_share)
    warn_in = max(window * (1 - NEAR_BREACH_SHARE) - spent, timedelta())
    return DueTimes(
        warn_at=add_business_time(start, warn_in, schedule),
        due_at=add_business_time(start, window - spent, schedule),
    )
