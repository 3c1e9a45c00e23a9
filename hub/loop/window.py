"""The reporting window of the loop metrics: whole UTC days, the last 30 by default."""

from datetime import UTC, date, datetime, time, timedelta

from hub.errors import InvalidInput
from hub.store.types import utcnow

DEFAULT_DAYS = 30


def day_window(start: date | None, end: date | None) -> tuple[datetime, datetime]:
    """[first day 00:00, day after the last 00:00) in UTC; ``end`` defaults to today and
    ``start`` to ``DEFAULT_DAYS`` days before it (both inclusive)."""
    last = end or utcnow().date()
    first = start or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidInput(
            "`from` is after `to`",
            details=[{"loc": ["query", "from"], "message": "must be on or before `to`"}],
        )
    begin = datetime.combine(first, time.min, tzinfo=UTC)
    return begin, datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
