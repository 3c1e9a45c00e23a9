"""The trend pages' query string: the window, the filters, the form's choices and API links.

Every page takes the same GET form; a value the back end refuses raises ``InvalidInput``
with a readable message, which the page shows above the form (never a bare 500 or JSON).
"""

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from fastapi import Request
from sqlmodel import Session

from hub.errors import InvalidInput
from hub.feedback.models import Channel
from hub.metrics.queries import Dimension, Filters, Interval, Window
from hub.sources.service import list_sources

MAX_VALUE = 200
BREAKDOWNS = {
    Dimension.source: "Source",
    Dimension.channel: "Channel",
    Dimension.segment: "Segment",
    Dimension.language: "Language",
}
INTERVALS = [(interval.value, interval.value.capitalize()) for interval in Interval]


def page_query(params: Mapping[str, str], keys: Iterable[str]) -> dict[str, str]:
    """The page's own non-empty parameters (anything else is dropped), trimmed."""
    return {key: params[key].strip()[:MAX_VALUE] for key in keys if params.get(key, "").strip()}


def parse_window(query: Mapping[str, str]) -> Window:
    """The reporting window: ``from``, ``to`` (days) and ``interval`` (default week)."""
    interval = query.get("interval", Interval.week.value)
    if interval not in Interval.__members__:
        raise InvalidInput(f"the interval must be day, week or month (not {interval!r})")
    return Window.of(_day(query, "from"), _day(query, "to"), Interval(interval))


def _day(query: Mapping[str, str], name: str) -> date | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"`{name}` must be a date like 2026-10-05 (not {value!r})") from None


def parse_by(query: Mapping[str, str]) -> Dimension:
    """The breakdown dimension (default source)."""
    by = query.get("by", Dimension.source.value)
    if by not in {dimension.value for dimension in BREAKDOWNS}:
        raise InvalidInput(f"break down by source, channel, segment or language (not {by!r})")
    return Dimension(by)


def rollup_filters(query: Mapping[str, str]) -> Filters:
    """The rollup filters the query names (one value each, as the form sends them)."""

    def one(name: str) -> tuple[str, ...]:
        return (query[name],) if name in query else ()

    return Filters(
        sources=one("source"),
        channels=one("channel"),
        segments=one("segment"),
        languages=one("language"),
    )


def day_bounds(window: Window) -> tuple[datetime, datetime]:
    """The window as UTC instants: from the first day's start to the day after the last."""
    start = datetime.combine(window.start, time(), tzinfo=UTC)
    end = datetime.combine(window.end + timedelta(days=1), time(), tzinfo=UTC)
    return start, end


def window_params(window: Window) -> dict[str, str]:
    """The window as query parameters, both days spelled out (links do what the page shows)."""
    return {
        "from": window.start.isoformat(),
        "to": window.end.isoformat(),
        "interval": window.interval.value,
    }


def link(path: str, params: Mapping[str, str | None]) -> str:
    """``path`` with the non-empty ``params`` as its query string."""
    present = {key: value for key, value in params.items() if value}
    return f"{path}?{urlencode(present)}" if present else path


def filter_choices(request: Request, session: Session) -> dict[str, list[tuple[str, str]]]:
    """(value, label) pairs for the filter menus."""
    codes = request.app.state.settings.language_codes
    return {
        "intervals": INTERVALS,
        "sources": [(source.name, source.name) for source in list_sources(session)],
        "channels": [(channel.value, channel.value) for channel in Channel],
        "languages": [*[(code, code) for code in codes], ("unknown", "unknown")],
        "breakdowns": [(dimension.value, label) for dimension, label in BREAKDOWNS.items()],
    }
