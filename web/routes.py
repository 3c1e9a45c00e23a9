"""HTML pages. They call hub services; the domain never imports web."""

from enum import StrEnum
from typing import Annotated, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from hub.feedback.models import Channel, ScoreType
from hub.feedback.queries import FeedbackFilters, list_feedback
from hub.http.deps import SessionDep
from hub.sources.service import list_sources
from hub.topics.service import list_topics
from web.auth import page_user
from web.templating import templates

# Every page needs a signed-in person; viewers may read all of these.
router = APIRouter(include_in_schema=False, dependencies=[Depends(page_user())])
E = TypeVar("E", bound=StrEnum)


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
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: str | None = None,
) -> HTMLResponse:
    """Every feedback item, newest first, with filters."""
    filters = FeedbackFilters(
        source=source or None,
        channel=_choice(Channel, channel),
        score_type=_choice(ScoreType, score_type),
        language=language or None,
        topic=topic or None,
        q=q or None,
    )
    page = list_feedback(session, filters=filters, cursor=cursor, limit=50)
    shown = {"q": q, "source": source, "channel": channel, "score_type": score_type,
             "language": language, "topic": topic}  # fmt: skip
    codes = [*request.app.state.settings.language_codes, "unknown"]
    context = {
        "page": page,
        "filters": filters,
        # (value, label) pairs for the filter menus
        "sources": [(source.name, source.name) for source in list_sources(session)],
        "channels": [(channel.value, channel.value) for channel in Channel],
        "score_types": [(kind.value, kind.value.upper()) for kind in ScoreType],
        "languages": [(code, code) for code in codes],
        "topics": [(topic.key, topic.name) for topic in list_topics(session, active_only=True)],
        "next_query": urlencode({**_present(shown), "cursor": page.next_cursor or ""}),
        "export_url": _export_url(filters),
    }
    return templates.TemplateResponse(request, "inbox.html", context)


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
    names = ("q", "source", "channel", "score_type", "language", "topic")
    params = {name: str(value) for name in names if (value := getattr(filters, name))}
    return f"/api/v1/feedback?{urlencode({**params, 'format': 'csv'})}"


def _present(params: dict[str, str | None]) -> dict[str, str]:
    return {name: value for name, value in params.items() if value}
