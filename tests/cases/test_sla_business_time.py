"""Business-time arithmetic of SLA clocks: opening hours, time zones, weekends, DST, caps."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.cases.sla import (
    Schedule,
    SlaClock,
    add_business_time,
    business_time_between,
    due_times,
    hours_as_text,
    hours_from_text,
    parse_hours,
)

LISBON = ZoneInfo("Europe/Lisbon")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS_9_18 = {day: ["09:00", "18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
OFFICE = Schedule.of("Europe/Lisbon", WEEKDAYS_9_18)
H = timedelta(hours=1)


def local(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        # Friday 17:00, 8 h: 1 h on Friday, 7 h on Monday.
        ((2026, 12, 4, 17, 0), 8, (2026, 12, 7, 16, 0)),
        # A window ending exactly at closing ends then, not at Monday's opening.
        ((2026, 12, 4, 10, 0), 8, (2026, 12, 4, 18, 0)),
        # Written on Saturday night: the clock starts Monday 09:00.
        ((2026, 12, 5, 23, 30), 2, (2026, 12, 7, 11, 0)),
        # Written before opening: from 09:00 the same day.
        ((2026, 12, 8, 6, 0), 3, (2026, 12, 8, 12, 0)),
        # Written after closing: from the next morning.
        ((2026, 12, 8, 19, 0), 1, (2026, 12, 9, 10, 0)),
        # 48 h of 9-hour days: five days and 3 h, over a weekend.
        ((2026, 12, 9, 9, 0), 48, (2026, 12, 16, 12, 0)),
        # Zero hours at a closed time: the next opening.
        ((2026, 12, 6, 12, 0), 0, (2026, 12, 7, 9, 0)),
    ],
)
def test_add_business_time_in_office_hours(
    start: tuple[int, ...], hours: float, due: tuple[int, ...]
) -> None:
    assert add_business_time(local(LISBON, *start), hours * H, OFFICE) == local(LISBON, *due)


def test_around_the_clock_is_plain_addition() -> None:
    start = datetime(2026, 12, 5, 23, 30, tzinfo=UTC)
    assert add_business_time(start, 8 * H, Schedule()) == start + 8 * H
    assert business_time_between(start, start + 50 * H, Schedule()) == 50 * H


def test_spring_forward_counts_real_hours_on_the_wall_clock() -> None:
    # New York springs forward on 8 March 2026, 02:00 -> 03:00: a 00:00-06:00 day lasts 5 h.
    night = Schedule.of("America/New_York", {"sun": ["00:00", "06:00"]})
    start = local(NEW_YORK, 2026, 3, 8, 0, 0)
    assert add_business_time(start, 5 * H, night) == local(NEW_YORK, 2026, 3, 8, 6, 0)
    assert business_time_between(start, start + 24 * H, night) == 5 * H


def test_opening_hours_stay_local_across_dst() -> None:
    # Lisbon leaves summer time on 25 October 2026: 09:00 local is 08:00 UTC before, 09:00 after.
    before = add_business_time(local(LISBON, 2026, 10, 23, 17, 0), 2 * H, OFFICE)
    assert before == datetime(2026, 10, 26, 10, 0, tzinfo=UTC)  # Monday 10:00 local (UTC+0)
    assert before.astimezone(LISBON).hour == 10


def test_business_time_between_skips_closed_time() -> None:
    friday_17 = local(LISBON, 2026, 12, 4, 17, 0)
    monday_16 = local(LISBON, 2026, 12, 7, 16, 0)
    assert business_time_between(friday_17, monday_16, OFFICE) == 8 * H
    assert business_time_between(monday_16, friday_17, OFFICE) == timedelta()


def test_customer_clock_counts_from_when_they_wrote() -> None:
    wrote = local(LISBON, 2026, 12, 4, 17, 0)  # Friday 17:00
    routed = local(LISBON, 2026, 12, 7, 10, 0)  # Monday 10:00: 2 h of business time spent
    times = due_times(customer_at=wrote, received_at=wrote, routed_at=routed, window=8 * H,
                      clock=SlaClock.customer, cap_share=0.5, schedule=OFFICE)  # fmt: skip
    assert times.due_at == local(LISBON, 2026, 12, 7, 16, 0)
    # Near breach in the last fifth (1.6 h of business time): from 14:24.
    assert times.warn_at == local(LISBON, 2026, 12, 7, 14, 24)


def test_routing_clock_ignores_when_they_wrote() -> None:
    wrote = local(LISBON, 2026, 12, 4, 17, 0)
    routed = local(LISBON, 2026, 12, 7, 10, 0)
    times = due_times(customer_at=wrote, received_at=wrote, routed_at=routed, window=8 * H,
                      clock=SlaClock.routing, cap_share=0.5, schedule=OFFICE)  # fmt: skip
    assert times.due_at == local(LISBON, 2026, 12, 7, 18, 0)


def test_an_old_import_opens_with_the_uncapped_rest_of_its_window() -> None:
    wrote = datetime(2026, 10, 1, 12, tzinfo=UTC)
    routed = datetime(2026, 12, 7, 12, tzinfo=UTC)
    times = due_times(customer_at=wrote, received_at=routed, routed_at=routed, window=48 * H,
                      clock=SlaClock.customer, cap_share=0.5, schedule=Schedule())  # fmt: skip
    assert times.due_at == routed + 24 * H  # half the window spent at most: not breached
    assert times.warn_at == routed + (48 * 0.8 - 24) * H
    at_most = due_times(customer_at=wrote, received_at=routed, routed_at=routed, window=10 * H,
                        clock=SlaClock.customer, cap_share=0.8, schedule=Schedule())  # fmt: skip
    assert at_most.warn_at == routed  # opens near breach, never breached
    assert at_most.due_at == routed + 2 * H


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("", None),
        ("mon-fri 09:00-18:00", WEEKDAYS_9_18),
        (
            "Mon 08:30-12:00; sat 10:00-14:00",
            {"mon": ["08:30", "12:00"], "sat": ["10:00", "14:00"]},
        ),
    ],
)
def test_hours_from_and_as_text(text: str, hours: dict[str, list[str]] | None) -> None:
    assert hours_from_text(text) == hours
    assert hours_from_text(hours_as_text(hours)) == hours


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("mon-fri 18:00-09:00", "opens at 18:00 but closes at 09:00"),
        ("funday 09:00-18:00", "days are"),
        ("mon-fri 9am-6pm", "times are HH:MM"),
        ("mon-fri", "write days and hours"),
        ("mon 09:00+05:00-18:00", "times are HH:MM"),
        ("mon 09:00-25:00", "no such time"),
    ],
)
def test_bad_hours_are_refused(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        hours_from_text(text)


def test_no_open_day_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one open day"):
        parse_hours({})
    with pytest.raises(ValueError, match="unknown time zone"):
        Schedule.of("Mars/Olympus_Mons", None)


def test_time_the_hub_held_an_item_counts_in_full() -> None:
    # Received when written, routed three days later (a stalled worker): breached as it opens.
    wrote = datetime(2026, 12, 4, 12, tzinfo=UTC)
    routed = wrote + 72 * H
    times = due_times(customer_at=wrote, received_at=wrote + H, routed_at=routed, window=48 * H,
                      clock=SlaClock.customer, cap_share=0.5, schedule=Schedule())  # fmt: skip
    assert times.due_at == wrote + 48 * H < routed
    assert times.warn_at == wrote + 48 * 0.8 * H
