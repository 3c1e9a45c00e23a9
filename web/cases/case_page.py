"""One case's page: its feedback, the customer's history, the timeline and the action forms."""

from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from hub.cases.models import TRANSITIONS, Case, CaseDetail, Status
from hub.cases.queries import case_detail
from hub.cases.service import get_case, may_work
from hub.cases.status_menu import natural_next, status_choices
from hub.config import Settings
from hub.errors import NotFound
from hub.http.deps import SessionDep
from hub.macros.models import MacroPublic
from hub.macros.service import list_macros, render_macro
from hub.routing.models import Priority
from hub.store.types import utcnow
from hub.topics.service import list_topics
from hub.users.models import Role, User
from web.cases.common import SENTIMENTS, UserDep, pages_router, people, teams
from web.cases.filters import queue_query
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
    "reply-manual": "Reply recorded as a draft: send it to the customer by hand, then record "
    "it again marked as sent.",
    "reply-by_hand": "Reply recorded as sent by you: the case now waits on the customer.",
    "priority": "Priority changed.",
    "closed-next": "Case closed. This is the next case of your queue.",
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
    request: Request,
    session: SessionDep,
    user: UserDep,
    case_id: int,
    done: str | None = None,
    macro: str | None = None,
) -> HTMLResponse:
    """A case: its feedback, the customer's history, the timeline and the actions; ``macro``
    fills the reply form with that template, rendered for the case."""
    form = None
    if macro and macro.isdigit():
        try:
            filled = render_macro(session, macro_id=int(macro), case_id=case_id, agent=user)
            form = {"subject": filled.subject, "reply": filled.body, "macro": macro}
        except NotFound:
            form = None  # a template deleted meanwhile: the page without it
    return render_case_page(request, session, user, case_id, done=DONE.get(done or ""), form=form)


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
    queue = queue_query(dict(parse_qsl(request.query_params.get("q", ""))))
    context: dict[str, Any] = {
        "detail": detail,
        "case_id": case_id,
        # The queue the case was opened from travels with every form (for "close and next").
        "here": f"?{urlencode({'q': urlencode(queue)})}" if queue else "",
        "queue_url": f"/cases?{urlencode(queue)}" if queue else "/cases",
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
        "next_statuses": status_choices(case),
        "natural_next": natural_next(case),
        "priorities": [p.value for p in reversed(list(Priority))],
        "macros": _macros_by_language(session, detail.feedback.language),
        "can_close": Status.closed in TRANSITIONS[Status(case.status)],
        "delivery": _delivery(detail, request.app.state.settings),
        "events": [(event, changes(event, names)) for event in detail.events],
    }


def _macros_by_language(
    session: Session, language: str | None
) -> list[tuple[str, list[MacroPublic]]]:
    """The reply templates in the feedback's language first, then the others."""
    every = list_macros(session)
    own = [m for m in every if m.language == language]
    others = [m for m in every if m.language != language]
    groups = [(f"In the feedback's language ({language})", own), ("Other languages", others)]
    return [(title, group) for title, group in groups if group]


def _delivery(detail: CaseDetail, settings: Settings) -> dict[str, str | None]:
    """How a reply would reach the customer (the rule of ``reply_to_customer``)."""
    customer = detail.feedback.customer
    email = customer.email if customer else None
    if email and settings.smtp_host:
        return {"how": "email", "to": email, "why": None}
    why = "email is not set up on this hub" if email else "the customer has no email address"
    return {"how": "manual", "to": email, "why": why}
