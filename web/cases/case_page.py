"""One case's page: its feedback, the customer's history, the timeline and the action forms."""

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from hub.cases.models import TRANSITIONS, Case, CaseDetail, Status
from hub.cases.queries import case_detail
from hub.cases.service import get_case, may_work
from hub.config import Settings
from hub.errors import NotFound
from hub.http.deps import SessionDep
from hub.store.types import utcnow
from hub.topics.service import list_topics
from hub.users.models import Role, User
from web.cases.common import SENTIMENTS, UserDep, pages_router, people, teams
from web.cases.timeline import actor, changes, due_text, event_label, label, when
from web.templating import templates

router = pages_router()

# What each action returns, as the page says it after the redirect (?done=...).
DONE = {
    "opened": "Case opened.",
    "assigned": "Assignment saved.",
    "status": "Status changed.",
    "closed": "Case closed.",
    "note": "Note added to the timeline.",
    "reply-email": "Reply queued: it will be emailed to the customer.",
    "reply-manual": "Reply recorded: send it to the customer by hand.",
    "sentiment": "Sentiment corrected.",
    "topics": "Topics corrected.",
    "unchanged": "Nothing to change.",
}
FORMATTERS = {
    "event_label": event_label,
    "actor": actor,
    "due": due_text,
    "when": when,
    "label": label,
}


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request, session: SessionDep, user: UserDep, case_id: int, done: str | None = None
) -> HTMLResponse:
    """A case: its feedback, the customer's history, the timeline and the actions."""
    return render_case_page(request, session, user, case_id, done=DONE.get(done or ""))


def render_case_page(
    request: Request,
    session: Session,
    user: User,
    case_id: int,
    *,
    done: str | None = None,
    error: str | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    """The case page with a message or an error (and the form as sent); 404 if no such case."""
    try:
        detail = case_detail(session, case_id=case_id)
    except NotFound as exc:
        missing = {"detail": None, "case_id": case_id, "error": exc.message}
        return templates.TemplateResponse(request, "case.html", missing, status_code=404)
    context: dict[str, Any] = {
        "detail": detail,
        "case_id": case_id,
        "done": done,
        "error": error,
        "form": form or {},
        "now": utcnow(),
        **_action_choices(request, session, user, detail, get_case(session, case_id=case_id)),
        **FORMATTERS,
    }
    return templates.TemplateResponse(request, "case.html", context, status_code=status_code)


def _action_choices(
    request: Request, session: Session, user: User, detail: CaseDetail, case: Case
) -> dict[str, Any]:
    """What the action forms offer ``user``, and the timeline with names for ids."""
    person_choices, team_choices = people(session), teams(session)
    names = {"assignee_id": dict(person_choices), "team_id": dict(team_choices)}
    chosen = {topic.key for topic in detail.feedback.topics}
    topics = [(t.key, t.name) for t in list_topics(session) if t.active or t.key in chosen]
    return {
        "can_act": Role(user.role).allows(Role.agent) and may_work(session, user, case),
        "is_viewer": not Role(user.role).allows(Role.agent),
        "people": person_choices,
        "teams": team_choices,
        "topics": topics,
        "chosen_topics": chosen,
        "sentiments": SENTIMENTS,
        "next_statuses": _next_statuses(case),
        "can_close": Status.closed in TRANSITIONS[Status(case.status)],
        "delivery": _delivery(detail, request.app.state.settings),
        "events": [(event, changes(event, names)) for event in detail.events],
    }


def _next_statuses(case: Case) -> list[Status]:
    """The statuses the status form offers: allowed moves, closing aside (it has its own form),
    and "assigned" only once someone is."""
    allowed = TRANSITIONS[Status(case.status)] - {Status.closed}
    if case.assignee_id is None:
        allowed -= {Status.assigned}
    return [status for status in Status if status in allowed]


def _delivery(detail: CaseDetail, settings: Settings) -> dict[str, str | None]:
    """How a reply would reach the customer (the rule of ``reply_to_customer``)."""
    customer = detail.feedback.customer
    email = customer.email if customer else None
    if email and settings.smtp_host:
        return {"how": "email", "to": email, "why": None}
    why = "email is not set up on this hub" if email else "the customer has no email address"
    return {"how": "manual", "to": email, "why": why}
