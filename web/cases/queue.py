"""The triage queue: open cases with tabs, filters, sort, paging, SLA counts and bulk actions
(assign, status, priority, close: each ticked case checked on its own, refusals counted)."""

from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from hub.cases.bulk import MAX_BULK, BulkAction, BulkIn, BulkResult, apply_bulk
from hub.cases.export import cases_csv
from hub.cases.models import Case, CasePublic, Status
from hub.cases.queries import CaseFilters, list_cases
from hub.cases.service import assign, may_work
from hub.config import Settings
from hub.customers.models import Customer
from hub.errors import HubError, InvalidInput
from hub.feedback.models import Feedback
from hub.http.deps import SessionDep, SettingsDep
from hub.routing.models import Priority
from hub.sources.service import list_sources
from hub.store.types import utcnow
from hub.topics.service import list_topics
from hub.users.models import Role, User
from web.auth import check_csrf
from web.cases.common import (
    SENTIMENTS,
    UserDep,
    body_text,
    id_choice,
    must_be_agent,
    pages_router,
    people,
    teams,
)
from web.cases.filters import (
    SCOPES,
    SLA_STATES,
    queue_filters,
    queue_query,
    queue_url,
    with_default_scope,
)
from web.cases.timeline import age_text, due_text, label, when
from web.templating import templates

router = pages_router()

PAGE_SIZE = 50
SORT_CHOICES = [
    ("due", "Due soonest"),
    ("priority", "Priority"),
    ("newest", "Newest"),
    ("oldest", "Oldest"),
]


# What a bulk action did, as the flash says it: "7 closed, 1 refused (not yours)".
DONE_VERBS = {"assigned": "assigned", "status": "moved", "priority": "reprioritised",
              "close": "closed"}  # fmt: skip
REFUSAL_WORDS = {"not_yours": "not yours", "not_allowed": "their status does not allow it",
                 "not_found": "no longer there"}  # fmt: skip


@router.get("/cases", response_class=HTMLResponse)
def queue(
    request: Request,
    session: SessionDep,
    user: UserDep,
    done: str | None = None,
    n: Annotated[int, Query(ge=0, le=MAX_BULK)] = 0,
    same: Annotated[int, Query(ge=0, le=MAX_BULK)] = 0,
    not_yours: Annotated[int, Query(ge=0, le=MAX_BULK)] = 0,
    not_allowed: Annotated[int, Query(ge=0, le=MAX_BULK)] = 0,
    not_found: Annotated[int, Query(ge=0, le=MAX_BULK)] = 0,
) -> HTMLResponse:
    """The triage queue: open cases, soonest due first, with tabs, filters and bulk actions."""
    query = queue_query(request.query_params)
    refused = {"not_yours": not_yours, "not_allowed": not_allowed, "not_found": not_found}
    return _queue_page(request, session, user, query, done=_done_message(done, n, same, refused))


def _done_message(done: str | None, n: int, same: int, refused: dict[str, int]) -> str | None:
    """What the last action did, in words; None when there is nothing to say."""
    if done == "closed-last":
        return "Case closed. There is no other open case in this queue."
    if done not in DONE_VERBS:
        return None
    parts = [f"{n} {DONE_VERBS[done]}"]
    if same:
        parts.append(f"{same} already so")
    parts += [f"{count} refused ({REFUSAL_WORDS[why]})" for why, count in refused.items() if count]
    return ", ".join(parts) + "."


@router.get("/cases.csv")
def queue_csv(
    request: Request, session: SessionDep, settings: SettingsDep, user: UserDep
) -> Response:
    """The queue the page shows with the same query, every page of it, as CSV; too long a
    queue shows the page with the reason."""
    query = with_default_scope(queue_query(request.query_params), user)
    engine, max_rows = request.app.state.engine, settings.export_max_rows
    try:
        filters = queue_filters(query)
        return cases_csv(session, engine, filters=filters, viewer=user, max_rows=max_rows)
    except InvalidInput as exc:
        return _queue_page(request, session, user, query, error=exc.message, status_code=422)


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
    """Give every ticked case to a person and/or a team (a blank choice keeps theirs); a case
    the person may not work is refused and counted, the others are assigned."""
    query = queue_query(dict(parse_qsl(back)))
    try:
        check_csrf(request, csrf_token)
        must_be_agent(user)
        ids = _ticked_ids(case_id)
        person, team = _bulk_target(assignee_id, team_id)
        found = [case for i in ids if (case := session.get(Case, i)) is not None]
        cases = [case for case in found if may_work(session, user, case)]
        _assign_all(session, settings, user, cases, person=person, team=team)
    except HubError as exc:
        session.rollback()
        return _queue_page(
            request, session, user, query, error=exc.message, status_code=exc.status_code
        )
    refused = {"not_yours": len(found) - len(cases), "not_found": len(ids) - len(found)}
    return _back_to_queue(query, done="assigned", n=len(cases), **refused)


@router.post("/cases/bulk")
def bulk_change(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
    case_id: Annotated[list[int] | None, Form()] = None,
    action: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
    priority: Annotated[str, Form()] = "",
    resolution: Annotated[str, Form()] = "",
    back: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Change the status or priority of every ticked case, or close them; each case the person
    may not work, or whose status does not allow it, is refused and counted, the rest change."""
    query = queue_query(dict(parse_qsl(back)))
    try:
        check_csrf(request, csrf_token)
        must_be_agent(user)
        data = _bulk_input(_ticked_ids(case_id), action, status, priority, resolution)
        result = apply_bulk(
            session, settings=settings, data=data, user=user, actor=f"user:{user.id}"
        )
    except HubError as exc:
        session.rollback()
        return _queue_page(
            request, session, user, query, error=exc.message, status_code=exc.status_code
        )
    return _back_to_queue(query, done=data.action.value, **_counts(result))


def _bulk_input(ids: list[int], action: str, status: str, priority: str, resolution: str) -> BulkIn:
    """The bulk change the form asks for, with a reason for each thing missing."""
    if action not in BulkAction.__members__:
        raise InvalidInput("choose what to do with the ticked cases")
    if action == "status" and (status not in Status.__members__ or status == "closed"):
        raise InvalidInput("choose the status to move the ticked cases to")
    if action == "priority" and priority not in Priority.__members__:
        raise InvalidInput("choose the priority to give the ticked cases")
    said = body_text(resolution, "resolution", required=action == "close")
    return BulkIn(
        case_ids=ids, action=BulkAction(action), status=Status(status) if action == "status"
        else None, priority=Priority(priority) if action == "priority" else None,
        resolution=said or None,
    )  # fmt: skip


def _counts(result: BulkResult) -> dict[str, int]:
    counts = {"n": len(result.changed), "same": len(result.unchanged)}
    for refusal in result.refused:
        counts[refusal.reason.value] = counts.get(refusal.reason.value, 0) + 1
    return counts


def _back_to_queue(query: dict[str, str], *, done: str, **counts: int) -> RedirectResponse:
    """The queue again, on its first page, saying what was done."""
    kept = {k: v for k, v in query.items() if k != "cursor"}
    shown = {key: value for key, value in counts.items() if value or key == "n"}
    return RedirectResponse(f"/cases?{urlencode({**kept, 'done': done, **shown})}", status_code=303)


# Bulk actions ------------------------------------------------------------------------------


def _ticked_ids(case_ids: list[int] | None) -> list[int]:
    """The ticked cases, each once; at least one and at most ``MAX_BULK``."""
    ids = list(dict.fromkeys(case_ids or []))
    if not ids:
        raise InvalidInput("tick the cases first")
    if len(ids) > MAX_BULK:
        raise InvalidInput(f"change at most {MAX_BULK} cases at once")
    return ids


def _bulk_target(assignee_id: str, team_id: str) -> tuple[int | None, int | None]:
    """The person and team chosen for bulk assign; at least one of them."""
    person, team = id_choice(assignee_id, "person"), id_choice(team_id, "team")
    if person is None and team is None:
        raise InvalidInput("choose a person or a team to assign the cases to")
    return person, team


def _assign_all(
    session: Session,
    settings: Settings,
    user: User,
    cases: list[Case],
    *,
    person: int | None,
    team: int | None,
) -> None:
    """Assign each case; a blank person or team keeps the case's own."""
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


# The page ----------------------------------------------------------------------------------


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
    """The queue page for ``query``; agents start on their own cases, others on all."""
    query = with_default_scope(query, user)
    filters = queue_filters(query)
    try:
        page = list_cases(
            session, filters=filters, viewer=user, cursor=query.get("cursor"), limit=PAGE_SIZE
        )
    except InvalidInput:  # a stale or hand-made cursor: start from the top
        query.pop("cursor", None)
        page = list_cases(session, filters=filters, viewer=user, cursor=None, limit=PAGE_SIZE)
    context = {
        "page": page,
        "facts": _row_facts(session, page.items),
        "case_url": lambda case_id: f"/cases/{case_id}?{urlencode({'q': urlencode(query)})}",
        "age": age_text,
        "query": query,
        "now": utcnow(),
        "done": done,
        "error": error,
        "can_act": Role(user.role).allows(Role.agent),
        "sla_counts": _sla_counts(session, filters, user),
        "url": lambda **changes: queue_url(query, **changes),
        "back": urlencode(query),
        "export_url": f"/cases.csv?{urlencode({k: v for k, v in query.items() if k != 'cursor'})}",
        "scopes": SCOPES,
        "due": due_text,
        "when": when,
        "label": label,
        **_choices(request, session),
    }
    return templates.TemplateResponse(request, "cases.html", context, status_code=status_code)


def _row_facts(session: Session, cases: list[CasePublic]) -> dict[int, dict[str, Any]]:
    """Per case of the page: the customer (name, segment), the channel and when they wrote."""
    rows = session.exec(
        select(Feedback, Customer)
        .outerjoin(Customer, col(Customer.id) == col(Feedback.customer_id))
        .where(col(Feedback.id).in_([case.feedback_id for case in cases]))
    ).all()
    by_feedback = {
        feedback.id: {
            "channel": feedback.channel,
            "wrote_at": feedback.created_at,
            "customer": (customer.name or customer.external_ref) if customer else None,
            "segment": customer.segment if customer else None,
        }
        for feedback, customer in rows
    }
    return {case.id: by_feedback.get(case.feedback_id, {}) for case in cases}


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
        "statuses": [*[(s.value, label(s)) for s in Status], ("any", "Any status")],
        "priorities": [(p.value, p.value) for p in reversed(list(Priority))],
        "bulk_statuses": [(s.value, label(s)) for s in Status if s != Status.closed],
        "slas": list(SLA_STATES.items()),
        "topics": [(t.key, t.name) for t in list_topics(session, active_only=True)],
        "sources": [(s.name, s.name) for s in list_sources(session)],
        "sentiments": [(s, s) for s in SENTIMENTS],
        "languages": [(code, code) for code in codes],
        "sorts": list(SORT_CHOICES),
        "people": people(session),
        "teams": teams(session),
    }
