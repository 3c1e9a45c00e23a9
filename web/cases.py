"""Triage pages: the case queue and one case with its actions (support leads and agents).

Everyone signed in reads; acting needs an agent on a case they may work (assigned to them or
to one of their teams) or a lead or admin on any case. Every action is a form post carrying the
session's CSRF token; success redirects (303) back with a fixed message, and a refused or
invalid action renders the page again with the reason (never a JSON body).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from hub.cases.models import OPEN_STATUSES, TRANSITIONS, Case, CaseDetail, EventPublic, Status
from hub.cases.queries import SORTS, CaseFilters, case_detail, list_cases
from hub.cases.service import add_note, assign, get_case, may_work, reply_to_customer, transition
from hub.config import Settings
from hub.errors import Forbidden, HubError, InvalidInput, NotFound
from hub.feedback.corrections import SCORES, correct_sentiment
from hub.http.deps import SessionDep, SettingsDep
from hub.routing.models import Priority
from hub.sources.service import list_sources
from hub.store.types import utcnow
from hub.topics.service import correct_topics, list_topics
from hub.users.models import Role, User
from hub.users.service import list_teams, list_users
from web.auth import check_csrf, page_user
from web.templating import templates

_signed_in = page_user()  # one callable, so the router and the routes share the cached user
router = APIRouter(include_in_schema=False, dependencies=[Depends(_signed_in)])
UserDep = Annotated[User, Depends(_signed_in)]

PAGE_SIZE = 50
MAX_BULK = 200
MAX_BODY = 10_000
SCOPES = {"mine": "My cases", "team": "My teams", "all": "All cases"}
SLA_STATES = {"ok": "On track", "near_breach": "Near breach", "breached": "Breached"}
SENTIMENTS = list(SCORES)
QUEUE_KEYS = (
    "scope",
    "status",
    "priority",
    "sla",
    "topic",
    "source",
    "sentiment",
    "language",
    "sort",
    "cursor",
)
DONE = {
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
EVENT_LABELS = {
    "created": "opened the case",
    "routed": "routed the case",
    "assigned": "changed the assignment",
    "status_changed": "changed the status",
    "priority_changed": "changed the priority",
    "commented": "added a note",
    "replied_to_customer": "replied to the customer",
    "sla_warning": "warned: SLA near breach",
    "sla_breached": "flagged: SLA breached",
}
FIELD_LABELS = {
    "status": "status",
    "assignee_id": "assignee",
    "team_id": "team",
    "priority": "priority",
    "due_at": "due",
}


@dataclass(frozen=True)
class Change:
    """One field of a timeline event: what it was and what it became."""

    field: str
    before: str | None  # None when the event only sets it (a new case)
    after: str


# The queue -------------------------------------------------------------------------------


@router.get("/cases", response_class=HTMLResponse)
def queue(
    request: Request, session: SessionDep, user: UserDep, done: str | None = None, n: int = 0
) -> HTMLResponse:
    """The triage queue: open cases, soonest due first, with tabs, filters and bulk assign."""
    query = _queue_query(request.query_params)
    message = f"Assigned {n} case{'s' if n != 1 else ''}." if done == "assigned" else None
    return _queue_page(request, session, user, query, done=message)


@router.post("/cases/assign")
def bulk_assign(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
    case_id: Annotated[list[int] | None, Form()] = None,
    assignee_id: Annotated[str, Form()] = "",
    team_id: Annotated[str, Form()] = "",
    back: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Give every ticked case to a person and/or a team (a blank choice keeps theirs)."""
    query = _queue_query(dict(parse_qsl(back)))
    try:
        check_csrf(request, csrf_token)
        _must_be_agent(user)
        ids = list(dict.fromkeys(case_id or []))
        if not ids:
            raise InvalidInput("tick the cases to assign first")
        if len(ids) > MAX_BULK:
            raise InvalidInput(f"assign at most {MAX_BULK} cases at once")
        person, team = _id_choice(assignee_id, "person"), _id_choice(team_id, "team")
        if person is None and team is None:
            raise InvalidInput("choose a person or a team to assign the cases to")
        cases = [_workable(session, user, get_case(session, case_id=i)) for i in ids]
        for case in cases:
            assert case.id is not None
            assign(
                session,
                settings=settings,
                case_id=case.id,
                actor=f"user:{user.id}",
                assignee_id=person or case.assignee_id,
                team_id=team or case.team_id,
            )
    except HubError as exc:
        session.rollback()
        return _queue_page(
            request, session, user, query, error=exc.message, status_code=exc.status_code
        )
    target = urlencode(
        {**{k: v for k, v in query.items() if k != "cursor"}, "done": "assigned", "n": len(ids)}
    )
    return RedirectResponse(f"/cases?{target}", status_code=303)


def _queue_page(
    request: Request,
    session: Session,
    user: User,
    query: dict[str, str],
    *,
    done: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    query.setdefault("scope", "mine" if user.role == Role.agent.value else "all")
    filters = _filters(query)
    try:
        page = list_cases(
            session, filters=filters, viewer=user, cursor=query.get("cursor"), limit=PAGE_SIZE
        )
    except InvalidInput:  # a stale or hand-made cursor: start from the top
        query.pop("cursor", None)
        page = list_cases(session, filters=filters, viewer=user, cursor=None, limit=PAGE_SIZE)
    context = {
        "page": page,
        "query": query,
        "now": utcnow(),
        "done": done,
        "error": error,
        "can_act": Role(user.role).allows(Role.agent),
        "sla_counts": _sla_counts(session, filters, user),
        "url": lambda **changes: _queue_url(query, **changes),
        "back": urlencode(query),
        "scopes": SCOPES,
        "due": due_text,
        "when": when,
        "label": _label,
        **_choices(request, session),
    }
    return templates.TemplateResponse(request, "cases.html", context, status_code=status_code)


def _sla_counts(session: Session, filters: CaseFilters, user: User) -> dict[str, int]:
    """How many of the queue's cases (any SLA filter aside) are breached, or near breach."""
    counted = filters.statuses or tuple(Status)
    return {
        state: sum(
            list_cases(
                session, filters=replace(filters, sla=state), viewer=user, cursor=None, limit=1
            ).counts[status.value]
            for status in counted
        )
        for state in ("breached", "near_breach")
    }


def _choices(request: Request, session: Session) -> dict[str, list[tuple[Any, str]]]:
    """(value, label) pairs for the filter menus and the bulk-assign form."""
    codes = [*request.app.state.settings.language_codes, "unknown"]
    return {
        "statuses": [*[(s.value, _label(s)) for s in Status], ("any", "Any status")],
        "priorities": [(p.value, p.value) for p in reversed(list(Priority))],
        "slas": list(SLA_STATES.items()),
        "topics": [(t.key, t.name) for t in list_topics(session, active_only=True)],
        "sources": [(s.name, s.name) for s in list_sources(session)],
        "sentiments": [(s, s) for s in SENTIMENTS],
        "languages": [(code, code) for code in codes],
        "sorts": [
            ("due", "Due soonest"),
            ("priority", "Priority"),
            ("newest", "Newest"),
            ("oldest", "Oldest"),
        ],
        "people": _people(session),
        "teams": _teams(session),
    }


def _queue_query(params: Mapping[str, str]) -> dict[str, str]:
    """The queue's own parameters from a query string (anything else is dropped)."""
    return {key: params[key][:200] for key in QUEUE_KEYS if params.get(key)}


def _filters(query: Mapping[str, str]) -> CaseFilters:
    """The queue's filters; unknown choices mean "any"."""
    status = query.get("status", "")
    statuses: tuple[Status, ...] = OPEN_STATUSES
    if status == "any":
        statuses = ()
    elif status in Status.__members__:
        statuses = (Status(status),)
    priority = query.get("priority", "")
    return CaseFilters(
        scope=query.get("scope", "all") if query.get("scope") in SCOPES else "all",
        statuses=statuses,
        priority=Priority(priority) if priority in Priority.__members__ else None,
        sla=query.get("sla") if query.get("sla") in SLA_STATES else None,
        topic=query.get("topic") or None,
        source=query.get("source") or None,
        sentiment=query.get("sentiment") if query.get("sentiment") in SENTIMENTS else None,
        language=query.get("language") or None,
        sort=query.get("sort", "due") if query.get("sort") in SORTS else "due",
    )


def _queue_url(query: Mapping[str, str], **changes: str | None) -> str:
    """The queue with some parameters changed (None drops one); paging restarts."""
    merged = {key: value for key, value in query.items() if key != "cursor"}
    for key, value in changes.items():
        if value:
            merged[key] = value
        else:
            merged.pop(key, None)
    return f"/cases?{urlencode(merged)}"


# One case ----------------------------------------------------------------------------------


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request, session: SessionDep, user: UserDep, case_id: int, done: str | None = None
) -> HTMLResponse:
    """A case: its feedback, the customer's history, the timeline and the actions."""
    return _case_page(request, session, user, case_id, done=DONE.get(done or ""))


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
        person, team = _id_choice(assignee_id, "person"), _id_choice(team_id, "team")
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

    return _act(request, session, user, case_id, csrf_token, action)


@router.post("/cases/{case_id}/status")
def change_status(
    request: Request,
    session: SessionDep,
    user: UserDep,
    case_id: int,
    status: Annotated[str, Form()] = "",
    resolution: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Move the case to another status; closing needs a resolution."""
    form = {"resolution": resolution}

    def action(case: Case) -> str:
        if status not in Status.__members__:
            raise InvalidInput("choose the status to move the case to")
        target = Status(status)
        said = _body(resolution, "resolution", required=target == Status.closed)
        if target.value == case.status:
            return "unchanged"
        transition(
            session,
            case_id=case_id,
            status=target,
            resolution=said or None,
            actor=f"user:{user.id}",
        )
        return "closed" if target == Status.closed else "status"

    return _act(request, session, user, case_id, csrf_token, action, form=form)


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
        add_note(session, case_id=case_id, body=_body(body, "note"), actor=f"user:{user.id}")
        return "note"

    return _act(request, session, user, case_id, csrf_token, action, form={"note": body})


@router.post("/cases/{case_id}/reply")
def reply(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
    case_id: int,
    body: Annotated[str, Form()] = "",
    subject: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Answer the customer: emailed when possible, else recorded to send by hand."""

    def action(_case: Case) -> str:
        if len(subject) > 300:
            raise InvalidInput("the subject is longer than 300 characters")
        event = reply_to_customer(
            session,
            settings=settings,
            case_id=case_id,
            body=_body(body, "reply"),
            subject=subject.strip() or None,
            actor=f"user:{user.id}",
        )
        return f"reply-{(event.after or {}).get('delivery', 'manual')}"

    form = {"reply": body, "subject": subject}
    return _act(request, session, user, case_id, csrf_token, action, form=form)


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

    return _act(request, session, user, case_id, csrf_token, action)


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
        if len(keys) > 10:
            raise InvalidInput("choose at most 10 topics")
        correct_topics(session, feedback_id=case.feedback_id, keys=keys)
        return "topics"

    return _act(request, session, user, case_id, csrf_token, action)


def _act(
    request: Request,
    session: Session,
    user: User,
    case_id: int,
    csrf_token: str,
    action: Callable[[Case], str],
    *,
    form: dict[str, str] | None = None,
) -> Response:
    """Check the form and the person's right to work the case, then act and go back."""
    try:
        check_csrf(request, csrf_token)
        _must_be_agent(user)
        done = action(_workable(session, user, get_case(session, case_id=case_id)))
    except HubError as exc:
        session.rollback()  # an action that failed halfway leaves nothing behind
        return _case_page(
            request,
            session,
            user,
            case_id,
            error=exc.message,
            status_code=exc.status_code,
            form=form,
        )
    return RedirectResponse(f"/cases/{case_id}?done={done}", status_code=303)


def _case_page(
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
    try:
        detail = case_detail(session, case_id=case_id)
    except NotFound as exc:
        missing = {"detail": None, "case_id": case_id, "error": exc.message}
        return templates.TemplateResponse(request, "case.html", missing, status_code=404)
    case = get_case(session, case_id=case_id)
    people, teams = _people(session), _teams(session)
    names = {"assignee_id": dict(people), "team_id": dict(teams)}
    chosen = {topic.key for topic in detail.feedback.topics}
    topics = [(t.key, t.name) for t in list_topics(session) if t.active or t.key in chosen]
    context: dict[str, Any] = {
        "detail": detail,
        "case_id": case_id,
        "done": done,
        "error": error,
        "form": form or {},
        "can_act": Role(user.role).allows(Role.agent) and may_work(session, user, case),
        "is_viewer": not Role(user.role).allows(Role.agent),
        "now": utcnow(),
        "people": people,
        "teams": teams,
        "topics": topics,
        "chosen_topics": chosen,
        "sentiments": SENTIMENTS,
        "next_statuses": _next_statuses(case),
        "can_close": Status.closed in TRANSITIONS[Status(case.status)],
        "delivery": _delivery(detail, request.app.state.settings),
        "events": [(event, _changes(event, names)) for event in detail.events],
        "event_label": lambda kind: EVENT_LABELS.get(kind, kind.replace("_", " ")),
        "actor": _actor,
        "due": due_text,
        "when": when,
        "label": _label,
    }
    return templates.TemplateResponse(request, "case.html", context, status_code=status_code)


# Rules and helpers -------------------------------------------------------------------------


def _must_be_agent(user: User) -> None:
    if not Role(user.role).allows(Role.agent):
        raise Forbidden("viewers can read cases but not change them")


def _workable(session: Session, user: User, case: Case) -> Case:
    """``case`` if ``user`` may work it; agents work their own and their teams' cases."""
    if not may_work(session, user, case):
        raise Forbidden(
            f"case #{case.id} is not assigned to you or to one of your teams: ask a lead"
        )
    return case


def _id_choice(value: str, what: str) -> int | None:
    """A person or team chosen in a form; blank is none."""
    if not value.strip():
        return None
    if not value.strip().isdigit():
        raise InvalidInput(f"choose a {what} from the list")
    return int(value)


def _body(value: str, what: str, *, required: bool = True) -> str:
    """A note, reply or resolution: trimmed, present when required, and not too long."""
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"write the {what} first")
    if len(text) > MAX_BODY:
        raise InvalidInput(f"the {what} is longer than {MAX_BODY:,} characters")
    return text


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


def _people(session: Session) -> list[tuple[int, str]]:
    """Who can take cases: active agents, leads and admins."""
    return [
        (u.id, u.name or u.email) for u in list_users(session) if u.active and u.role != Role.viewer
    ]


def _teams(session: Session) -> list[tuple[int, str]]:
    return [(team.id, team.name) for team in list_teams(session)]


def _changes(event: EventPublic, names: dict[str, dict[int, str]]) -> list[Change]:
    """The fields an event changed, as words: "status: new → assigned"."""
    before, after = event.before or {}, event.after or {}
    if event.kind == "replied_to_customer":
        return []
    fields = [key for key in FIELD_LABELS if key in before or key in after]
    if event.before is None:  # a new case: only what it was given
        fields = [key for key in fields if after.get(key) is not None]
    return [
        Change(
            field=FIELD_LABELS[key],
            before=_value(key, before.get(key), names) if event.before is not None else None,
            after=_value(key, after.get(key), names),
        )
        for key in fields
    ]


def _value(key: str, value: Any, names: dict[str, dict[int, str]]) -> str:
    if key in names:
        empty = "nobody" if key == "assignee_id" else "no team"
        return names[key].get(value, f"#{value}") if value is not None else empty
    if key == "due_at" and value:
        try:
            return when(datetime.fromisoformat(value))
        except (TypeError, ValueError):
            return str(value)
    return _label(value) if value else "—"


def _actor(event: EventPublic) -> str:
    """Who did it, in words: a person's name, a routing rule, an API key or the system."""
    if event.actor_name:
        return event.actor_name
    kind, _, ident = event.actor.partition(":")
    return {"rule": f"routing rule #{ident}", "key": f"API key #{ident}"}.get(kind, event.actor)


def _label(value: Any) -> str:
    """A status or state as words: in_progress → in progress."""
    return str(getattr(value, "value", value)).replace("_", " ")


def when(moment: datetime | None) -> str:
    """A time as the pages show it (UTC)."""
    return moment.strftime("%d %b %Y, %H:%M UTC") if moment else "—"


def due_text(due_at: datetime | None, sla_state: str, now: datetime) -> str:
    """How the SLA stands in words: "due in 5 h", "overdue by 2 d", "met"."""
    if due_at is None:
        return "no SLA"
    if sla_state in ("met", "missed"):
        return f"SLA {sla_state}"
    if due_at < now:
        return f"overdue by {_span(now - due_at)}"
    return f"due in {_span(due_at - now)}"


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"
