"""The actions on one case: assign, status (closing, and closing then opening the next case of
the queue), priority, note, reply, correct sentiment and topics.

Each is a form post: ``act`` checks the CSRF token and the person's right to work the case,
runs the action, and redirects back with what was done, or renders the page with the reason.
The queue the case was opened from (``?q=``) stays on the page's address.
"""

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from hub.cases.models import OPEN_STATUSES, Case, Status
from hub.cases.queries import list_cases
from hub.cases.service import (
    add_note,
    assign,
    get_case,
    reply_to_customer,
    set_priority,
    transition,
)
from hub.errors import HubError, InvalidInput
from hub.feedback.corrections import SCORES, correct_sentiment
from hub.http.deps import SessionDep, SettingsDep
from hub.routing.models import Priority
from hub.topics.service import correct_topics
from hub.users.models import User
from web.auth import check_csrf
from web.cases.case_page import render_case_page
from web.cases.common import UserDep, body_text, id_choice, must_be_agent, pages_router, workable
from web.cases.filters import queue_filters, queue_query, with_default_scope

router = pages_router()

MAX_SUBJECT = 300
MAX_TOPICS = 10


@router.post("/cases/{case_id}/assign")
def assign_case(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
    case_id: int,
    assignee_id: Annotated[str, Form()] = "",
    team_id: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Give the case to a person and/or a team (blank takes it away)."""

    def action(case: Case) -> str:
        person, team = id_choice(assignee_id, "person"), id_choice(team_id, "team")
        if (person, team) == (case.assignee_id, case.team_id):
            return "unchanged"
        assign(
            session,
            settings=settings,
            case_id=case_id,
            assignee_id=person,
            team_id=team,
            actor=f"user:{user.id}",
        )
        return "assigned"

    return act(request, session, user, case_id, csrf_token, action)


@router.post("/cases/{case_id}/status")
def change_status(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
    case_id: int,
    status: Annotated[str, Form()] = "",
    resolution: Annotated[str, Form()] = "",
    then: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Move the case to another status; closing needs a resolution. ``then=next`` (the "Close
    and next" button) goes on to the next case of the queue."""
    form = {"resolution": resolution}

    def action(case: Case) -> str:
        if status not in Status.__members__:
            raise InvalidInput("choose the status to move the case to")
        target = Status(status)
        said = body_text(resolution, "resolution", required=target == Status.closed)
        if target.value == case.status:
            return "unchanged"
        transition(
            session,
            case_id=case_id,
            status=target,
            resolution=said or None,
            actor=f"user:{user.id}",
            settings=settings,
        )
        if target == Status.closed and then == "next":
            return _next_case_url(request, session, user, case_id)
        return "closed" if target == Status.closed else "status"

    return act(request, session, user, case_id, csrf_token, action, form=form)


def _next_case_url(request: Request, session: Session, user: User, closed_id: int) -> str:
    """The next open case of the queue the page came from, soonest due first (the queue
    itself, saying so, when it has no other open case)."""
    query = with_default_scope(queue_query(_queue_of(request)), user)
    filters = replace(queue_filters(query), statuses=OPEN_STATUSES, sort="due")
    page = list_cases(session, filters=filters, viewer=user, cursor=None, limit=2)
    following = [case.id for case in page.items if case.id != closed_id]
    if not following:
        return f"/cases?{urlencode({**query, 'done': 'closed-last'})}"
    return f"/cases/{following[0]}?{urlencode({'q': urlencode(query), 'done': 'closed-next'})}"


def _queue_of(request: Request) -> dict[str, str]:
    """The queue's parameters that the page's address carries (``?q=``)."""
    return dict(parse_qsl(request.query_params.get("q", "")))


@router.post("/cases/{case_id}/priority")
def change_priority(
    request: Request,
    session: SessionDep,
    user: UserDep,
    case_id: int,
    priority: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Make the case more or less urgent."""

    def action(case: Case) -> str:
        if priority not in Priority.__members__:
            raise InvalidInput("choose low, normal, high or urgent")
        if case.priority == priority:
            return "unchanged"
        set_priority(session, case_id=case_id, priority=Priority(priority), actor=f"user:{user.id}")
        return "priority"

    return act(request, session, user, case_id, csrf_token, action)


@router.post("/cases/{case_id}/notes")
def note(
    request: Request,
    session: SessionDep,
    user: UserDep,
    case_id: int,
    body: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """An internal note on the timeline."""

    def action(_case: Case) -> str:
        add_note(session, case_id=case_id, body=body_text(body, "note"), actor=f"user:{user.id}")
        return "note"

    return act(request, session, user, case_id, csrf_token, action, form={"note": body})


@router.post("/cases/{case_id}/reply")
def reply(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
    case_id: int,
    body: Annotated[str, Form()] = "",
    subject: Annotated[str, Form()] = "",
    sent_by_hand: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Answer the customer: emailed when possible, else recorded, as a draft or (ticked) as
    sent by the agent themselves."""

    def action(_case: Case) -> str:
        if len(subject) > MAX_SUBJECT:
            raise InvalidInput(f"the subject is longer than {MAX_SUBJECT} characters")
        event = reply_to_customer(
            session,
            settings=settings,
            case_id=case_id,
            body=body_text(body, "reply"),
            subject=subject.strip() or None,
            actor=f"user:{user.id}",
            sent_by_hand=bool(sent_by_hand),
        )
        return f"reply-{(event.after or {}).get('delivery', 'manual')}"

    form = {"reply": body, "subject": subject, "sent_by_hand": sent_by_hand}
    return act(request, session, user, case_id, csrf_token, action, form=form)


@router.post("/cases/{case_id}/sentiment")
def correct_case_sentiment(
    request: Request,
    session: SessionDep,
    user: UserDep,
    case_id: int,
    sentiment: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Correct what the model read in the feedback (it learns from it)."""

    def action(case: Case) -> str:
        if sentiment not in SCORES:
            raise InvalidInput("choose negative, neutral or positive")
        correct_sentiment(session, feedback_id=case.feedback_id, sentiment=sentiment)
        return "sentiment"

    return act(request, session, user, case_id, csrf_token, action)


@router.post("/cases/{case_id}/topics")
def correct_case_topics(
    request: Request,
    session: SessionDep,
    user: UserDep,
    case_id: int,
    topic: Annotated[list[str] | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Say what the feedback is about; it replaces the model's topics and teaches them."""

    def action(case: Case) -> str:
        keys = list(dict.fromkeys(topic or []))
        if len(keys) > MAX_TOPICS:
            raise InvalidInput(f"choose at most {MAX_TOPICS} topics")
        correct_topics(session, feedback_id=case.feedback_id, keys=keys)
        return "topics"

    return act(request, session, user, case_id, csrf_token, action)


def act(
    request: Request,
    session: Session,
    user: User,
    case_id: int,
    csrf_token: str,
    action: Callable[[Case], str],
    *,
    form: dict[str, str] | None = None,
) -> Response:
    """Check the form and the person's right to work the case, then act and go back (or where
    the action says: a path it returns instead of what it did)."""
    try:
        check_csrf(request, csrf_token)
        must_be_agent(user)
        done = action(workable(session, user, get_case(session, case_id=case_id)))
    except HubError as exc:
        session.rollback()  # an action that failed halfway leaves nothing behind
        return render_case_page(
            request,
            session,
            user,
            case_id,
            error=exc.message,
            status_code=exc.status_code,
            form=form,
        )
    if done.startswith("/"):
        return RedirectResponse(done, status_code=303)
    queue = queue_query(_queue_of(request))
    kept = f"{urlencode({'q': urlencode(queue)})}&" if queue else ""
    return RedirectResponse(f"/cases/{case_id}?{kept}done={done}", status_code=303)
