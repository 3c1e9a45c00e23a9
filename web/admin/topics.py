"""The topics page: the taxonomy with recent volume, and discovered suggestions to curate.

Leads and admins accept a suggestion (under a name and key of their own), rename a topic, merge
one into another, or dismiss a suggestion (delete an unused topic). Each form posts, and either
redirects back with a confirmation or shows the page again with the reason next to that topic
and the person's input kept.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from hub.errors import HubError
from hub.http.deps import SessionDep
from hub.topics.curation import accept_topic, merge_topics, remove_topic
from hub.topics.models import TopicAccept, TopicMerge, TopicOrigin, TopicPublic, TopicUpdate
from hub.topics.queries import item_counts
from hub.topics.service import find_topic, list_topics, update_topic
from web.admin.common import Csrf, Lead, error_message, error_status, redirect, render
from web.auth import check_csrf

router = APIRouter()
Text = Annotated[str, Form()]
RECENT_DAYS = 30

DONE = {
    "accepted": "Topic accepted: workers put it on new feedback from their next batch.",
    "renamed": "Topic renamed.",
    "merged": "Topics merged: the items, examples, subtopics and routing rules of the merged "
    "topic now belong to this one.",
    "dismissed": "Suggestion dismissed.",
    "deleted": "Topic deleted.",
}


@router.get("/topics", response_class=HTMLResponse)
def topics_page(request: Request, session: SessionDep, _user: Lead) -> HTMLResponse:
    """The taxonomy with items of the last 30 days, and the suggestions to review."""
    return _page(request, session)


@router.post("/topics/{key}/accept", response_class=HTMLResponse)
def accept(
    request: Request, session: SessionDep, _user: Lead, key: str,
    csrf_token: Csrf = "", name: Text = "", new_key: Text = "",
) -> Response:  # fmt: skip
    """Make a suggestion a curated, active topic, named as the form says."""
    check_csrf(request, csrf_token)
    form = {"name": name, "new_key": new_key}
    try:
        data = TopicAccept.model_validate(_given(name=name, key=new_key))
        topic = accept_topic(session, key=key, data=data)
    except (ValidationError, HubError) as exc:
        return _refused(request, session, exc, key=key, action="accept", form=form)
    return redirect(f"/admin/topics?done=accepted#topic-{topic.key}")


@router.post("/topics/{key}/rename", response_class=HTMLResponse)
def rename(
    request: Request, session: SessionDep, _user: Lead, key: str,
    csrf_token: Csrf = "", name: Text = "", new_key: Text = "",
) -> Response:  # fmt: skip
    """Give a topic a new name and, if given, a new key (its history stays)."""
    check_csrf(request, csrf_token)
    form = {"name": name, "new_key": new_key}
    try:
        data = TopicUpdate.model_validate({"name": name, **_given(key=new_key)})
        topic = update_topic(session, key=key, data=data)
    except (ValidationError, HubError) as exc:
        return _refused(request, session, exc, key=key, action="rename", form=form)
    return redirect(f"/admin/topics?done=renamed#topic-{topic.key}")


@router.post("/topics/{key}/merge", response_class=HTMLResponse)
def merge(
    request: Request, session: SessionDep, _user: Lead, key: str,
    csrf_token: Csrf = "", into: Text = "",
) -> Response:  # fmt: skip
    """Merge the topic into the chosen one (which keeps everything of it)."""
    check_csrf(request, csrf_token)
    try:
        merged = merge_topics(session, key=key, into=TopicMerge(into=into).into)
    except (ValidationError, HubError) as exc:
        return _refused(request, session, exc, key=key, action="merge", form={"into": into})
    return redirect(f"/admin/topics?done=merged#topic-{merged.topic.key}")


@router.post("/topics/{key}/delete", response_class=HTMLResponse)
def delete(
    request: Request, session: SessionDep, _user: Lead, key: str, csrf_token: Csrf = ""
) -> Response:
    """Dismiss a suggestion, or delete a topic no item carries."""
    check_csrf(request, csrf_token)
    try:
        suggestion = _is_suggestion(session, key)
        remove_topic(session, key=key)
    except HubError as exc:
        return _refused(request, session, exc, key=key, action="delete", form={})
    return redirect(f"/admin/topics?done={'dismissed' if suggestion else 'deleted'}")


def _given(**fields: str) -> dict[str, str]:
    """The form fields filled in (an empty one leaves that field as it is)."""
    return {name: value.strip() for name, value in fields.items() if value.strip()}


def _is_suggestion(session: Session, key: str) -> bool:
    topic = find_topic(session, key)
    return topic.origin == TopicOrigin.discovered and not topic.active


def _suggested(topic: TopicPublic) -> bool:
    return topic.origin == TopicOrigin.discovered and not topic.active


def _refused(
    request: Request,
    session: Session,
    exc: ValidationError | HubError,
    *,
    key: str,
    action: str,
    form: dict[str, str],
) -> HTMLResponse:
    """The page again, with why the form was refused next to that topic and its input kept."""
    session.rollback()
    failed = {"key": key, "action": action, "error": error_message(exc), "form": form}
    return _page(request, session, failed=failed, status=error_status(exc))


def _page(
    request: Request, session: Session, *, failed: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    topics = list_topics(session)
    taxonomy = sorted(
        (t for t in topics if not _suggested(t)), key=lambda t: (not t.active, t.name.lower())
    )
    context = {
        "done": DONE.get(request.query_params.get("done", "")),
        "suggestions": [t for t in topics if _suggested(t)],
        "taxonomy": taxonomy,
        "names": {t.key: t.name for t in topics},
        "targets": [(t.key, t.name) for t in taxonomy if t.active],
        "recent": item_counts(session, days=RECENT_DAYS),
        "ever": item_counts(session),
        "recent_days": RECENT_DAYS,
        "failed": failed or {},
    }
    return render(request, "admin_topics.html", context, status)
