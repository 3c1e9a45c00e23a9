"""HTML pages. They call hub services; the domain never imports web."""

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from hub.cases.queries import cases_of_items
from hub.errors import InvalidInput
from hub.feedback.models import Channel, FeedbackPage, FeedbackPublic, ScoreType
from hub.feedback.queries import (
    FeedbackFilters,
    count_feedback,
    encode_cursor,
    list_feedback,
    list_newer_feedback,
)
from hub.http.deps import SessionDep
from hub.metrics.models import SENTIMENTS
from hub.sources.service import list_sources
from hub.store.storable import EARLIEST, LATEST
from hub.topics.service import list_topics
from web.auth import page_user
from web.templating import templates

# Every page needs a signed-in person; viewers may read all of these.
router = APIRouter(include_in_schema=False, dependencies=[Depends(page_user())])
E = TypeVar("E", bound=StrEnum)
PAGE_SIZE = 50


@router.get("/")
def home() -> RedirectResponse:
    """The inbox is the start page."""
    return RedirectResponse("/feedback", status_code=303)


@router.get("/feedback", response_class=HTMLResponse)
def inbox(
    request: Request,
    session: SessionDep,
    source: str | None = None,
    channel: str | None = None,
    score_type: str | None = None,
    language: str | None = None,
    topic: str | None = None,
    sentiment: str | None = None,
    customer: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[str | None, Query(alias="from")] = None,
    until: Annotated[str | None, Query(alias="to")] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: str | None = None,
    newer: str | None = None,
) -> HTMLResponse:
    """Every feedback item, newest first, with filters, a count, and newer/older pages."""
    errors: list[str] = []
    first_day, last_day = _day(since, "From", errors), _day(until, "To", errors)
    filters = FeedbackFilters(
        source=source or None,
        channel=_choice(Channel, channel),
        score_type=_choice(ScoreType, score_type),
        language=language or None,
        sentiment=sentiment if sentiment in SENTIMENTS else None,
        customer_search=customer.strip() if customer and customer.strip() else None,
        since=_midnight(first_day),
        until=_midnight(last_day + timedelta(days=1)) if last_day else None,
        q=q or None,
        topic=topic or None,
    )
    shown = {"q": q, "customer": customer, "source": source, "channel": channel,
             "score_type": score_type, "language": language, "topic": topic,
             "sentiment": filters.sentiment, "from": since if first_day else None,
             "to": until if last_day else None}  # fmt: skip
    try:
        paging = _page(session, filters, cursor=cursor, newer=newer, query=_present(shown))
    except InvalidInput:  # a cursor from elsewhere: start at the newest
        errors.append("That page link is out of date: here are the newest items.")
        paging = _page(session, filters, cursor=None, newer=None, query=_present(shown))
    codes = [*request.app.state.settings.language_codes, "unknown"]
    context = {
        **paging,
        "filters": filters,
        "shown": shown,
        "errors": errors,
        "total": count_feedback(session, filters=filters),
        "cases": cases_of_items(session, [item.id for item in paging["page"].items]),
        # (value, label) pairs for the filter menus
        "sources": [(source.name, source.name) for source in list_sources(session)],
        "channels": [(channel.value, channel.value) for channel in Channel],
        "score_types": [(kind.value, kind.value.upper()) for kind in ScoreType],
        "languages": [(code, code) for code in codes],
        "sentiments": [(value, value) for value in SENTIMENTS],
        "topics": [(topic.key, topic.name) for topic in list_topics(session, active_only=True)],
        "export_url": _export_url(filters),
    }
    return templates.TemplateResponse(request, "inbox.html", context)


def _page(
    session: Session,
    filters: FeedbackFilters,
    *,
    cursor: str | None,
    newer: str | None,
    query: dict[str, str],
) -> dict[str, Any]:
    """A page of items (older than ``cursor``, newer than ``newer``, or the newest) and the
    links to the newer and older pages next to it."""
    if newer:
        items, more_newer = list_newer_feedback(
            session, filters=filters, cursor=newer, limit=PAGE_SIZE
        )
        page = FeedbackPage(items=items, next_cursor=_position(items[-1]) if items else None)
        first = not more_newer
    else:
        page = list_feedback(session, filters=filters, cursor=cursor, limit=PAGE_SIZE)
        first = not cursor
    link = "/feedback?" + urlencode(query) if query else "/feedback"
    return {
        "page": page,
        "newest_url": None if first else link,
        "newer_url": None
        if first or not page.items
        else f"/feedback?{urlencode({**query, 'newer': _position(page.items[0])})}",
        "older_url": f"/feedback?{urlencode({**query, 'cursor': page.next_cursor})}"
        if page.next_cursor
        else None,
    }


def _position(item: FeedbackPublic) -> str:
    return encode_cursor(item.created_at, item.id)


def _day(value: str | None, name: str, errors: list[str]) -> date | None:
    """A date filter's day; a malformed or out-of-range one is left out with a message."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        errors.append(f"{name} must be a date like 2026-12-31.")
        return None
    if not EARLIEST <= day <= LATEST - timedelta(days=1):
        errors.append(f"{name} must be between {EARLIEST} and {LATEST - timedelta(days=1)}.")
        return None
    return day


def _midnight(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), tzinfo=UTC) if day else None


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request, session: SessionDep) -> HTMLResponse:
    """Every source: pulled ones with their last run, errors and next run; the others."""
    sources = list_sources(session)
    context = {
        "collected": [source for source in sources if source.collected],
        "others": [source for source in sources if not source.collected],
    }
    return templates.TemplateResponse(request, "sources.html", context)


def _choice(enum: type[E], value: str | None) -> E | None:
    """A filter form's choice; empty or unknown means "any"."""
    try:
        return enum(value) if value else None
    except ValueError:
        return None


def _export_url(filters: FeedbackFilters) -> str:
    """The JSON API's CSV export of every item these filters match (the inbox's filters)."""
    names = ("q", "source", "channel", "score_type", "language", "topic", "sentiment")
    params = {name: str(value) for name in names if (value := getattr(filters, name))}
    if filters.customer_search:
        params["customer"] = filters.customer_search
    for name, moment in (("since", filters.since), ("until", filters.until)):
        if moment:
            params[name] = moment.isoformat()
    return f"/api/v1/feedback?{urlencode({**params, 'format': 'csv'})}"


def _present(params: dict[str, str | None]) -> dict[str, str]:
    return {name: value for name, value in params.items() if value}
