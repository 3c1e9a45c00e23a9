"""JSON API for cases: the queue, one case with its trail, and the actions on it."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from hub.auth.models import Scope
from hub.cases.bulk import BulkIn, BulkResult, apply_bulk
from hub.cases.export import cases_csv
from hub.cases.models import (
    AssignIn,
    Case,
    CaseDetail,
    CaseOpenIn,
    CasePage,
    NoteIn,
    PriorityIn,
    ReplyIn,
    Status,
    TransitionIn,
)
from hub.cases.queries import SORTS, CaseFilters, case_detail, list_cases
from hub.cases.service import (
    add_note,
    assign,
    get_case,
    may_work,
    open_case_for_item,
    reply_to_customer,
    set_priority,
    transition,
)
from hub.errors import Forbidden
from hub.http.csv_export import Format, wants_csv
from hub.http.deps import Principal, ReadKey, SessionDep, SettingsDep, require_access
from hub.http.params import PathId
from hub.routing.models import Priority
from hub.users.models import Role

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])
# Changes: a key with the admin scope, or a signed-in agent (on cases they may work).
WorkKey = Annotated[Principal, Depends(require_access(Scope.admin, Role.agent))]


@router.get(
    "",
    summary="List cases",
    response_model=CasePage,
    responses={200: {"content": {"text/csv": {}}}},
)
def cases(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    who: ReadKey,
    scope: Annotated[str, Query(pattern="^(mine|team|all)$")] = "all",
    status: Annotated[list[Status] | None, Query()] = None,
    priority: Priority | None = None,
    sla: Annotated[str | None, Query(pattern="^(ok|near_breach|breached)$")] = None,
    topic: str | None = None,
    source: str | None = None,
    sentiment: str | None = None,
    language: str | None = None,
    sort: Annotated[str, Query(pattern=f"^({'|'.join(SORTS)})$")] = "due",
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    format: Annotated[
        Format | None, Query(description="csv: the whole queue (or Accept: text/csv)")
    ] = None,
) -> Response | CasePage:
    """The triage queue: open cases by default, soonest due first; counts per status.

    As CSV, every case of the queue in one download (`cursor` and `limit` do not apply), up to
    `HUB_EXPORT_MAX_ROWS`; more is a 422 asking for narrower filters."""
    filters = CaseFilters(
        scope=scope, statuses=tuple(status) if status else CaseFilters().statuses,
        priority=priority, sla=sla, topic=topic, source=source, sentiment=sentiment,
        language=language, sort=sort,
    )  # fmt: skip
    if wants_csv(request, format):
        engine, max_rows = request.app.state.engine, settings.export_max_rows
        return cases_csv(session, engine, filters=filters, viewer=who.user, max_rows=max_rows)
    return list_cases(session, filters=filters, viewer=who.user, cursor=cursor, limit=limit)


@router.post("", summary="Open a case for a feedback item", status_code=201)
def open_case_route(
    data: CaseOpenIn, session: SessionDep, settings: SettingsDep, who: WorkKey
) -> CaseDetail:
    """A case for any item, with the routed cases' trail; 409 names the item's open case, and
    a resolved or closed one is reopened (with a fresh SLA window)."""
    case = open_case_for_item(
        session, settings=settings, feedback_id=data.feedback_id, team_id=data.team_id,
        assignee_id=data.assignee_id, priority=data.priority, note=data.note, actor=who.actor,
    )  # fmt: skip
    assert case.id is not None
    session.flush()
    return case_detail(session, case_id=case.id)


@router.post("/bulk", summary="Change many cases at once")
def bulk_change(
    data: BulkIn, session: SessionDep, settings: SettingsDep, who: WorkKey
) -> BulkResult:
    """Change the status or priority of many cases, or close them with one resolution.

    Each case is checked on its own: one the caller may not work (agents: their own and their
    teams' cases), unknown, or whose status does not allow the move is refused with its reason
    while the others change. Each change is on its case's trail."""
    return apply_bulk(session, settings=settings, data=data, user=who.user, actor=who.actor)


@router.get("/{case_id}", summary="Get a case")
def one_case(case_id: PathId, session: SessionDep, _who: ReadKey) -> CaseDetail:
    """A case with its feedback, the customer's other feedback and the event trail."""
    return case_detail(session, case_id=case_id)


@router.post("/{case_id}/assign", summary="Assign a case")
def assign_case(
    case_id: PathId, data: AssignIn, session: SessionDep, settings: SettingsDep, who: WorkKey
) -> CaseDetail:
    """Give the case to a person and/or a team; a field left out stays as it is."""
    case = _may_work(session, who, case_id)
    given = data.model_fields_set  # an omitted field is not a null: it must not unassign
    assign(
        session, settings=settings, case_id=case_id,
        assignee_id=data.assignee_id if "assignee_id" in given else case.assignee_id,
        team_id=data.team_id if "team_id" in given else case.team_id, actor=who.actor,
    )  # fmt: skip
    return case_detail(session, case_id=case_id)


@router.post("/{case_id}/transition", summary="Change a case's status")
def transition_case(
    case_id: PathId, data: TransitionIn, session: SessionDep, settings: SettingsDep, who: WorkKey
) -> CaseDetail:
    """Move the case along new → assigned → in progress → waiting → resolved → closed."""
    _may_work(session, who, case_id)
    transition(session, case_id=case_id, status=data.status, resolution=data.resolution,
               actor=who.actor, settings=settings)  # fmt: skip
    return case_detail(session, case_id=case_id)


@router.post("/{case_id}/priority", summary="Change a case's priority")
def prioritise_case(
    case_id: PathId, data: PriorityIn, session: SessionDep, who: WorkKey
) -> CaseDetail:
    """Make the case more or less urgent (low, normal, high, urgent)."""
    _may_work(session, who, case_id)
    set_priority(session, case_id=case_id, priority=data.priority, actor=who.actor)
    return case_detail(session, case_id=case_id)


@router.post("/{case_id}/notes", summary="Add a note")
def note_case(case_id: PathId, data: NoteIn, session: SessionDep, who: WorkKey) -> CaseDetail:
    """An internal note on the case's trail."""
    _may_work(session, who, case_id)
    add_note(session, case_id=case_id, body=data.body, actor=who.actor)
    return case_detail(session, case_id=case_id)


@router.post("/{case_id}/reply", summary="Reply to the customer")
def reply_case(
    case_id: PathId, data: ReplyIn, session: SessionDep, settings: SettingsDep, who: WorkKey
) -> CaseDetail:
    """Email the customer (when they have an address and SMTP is set up), else record it.

    An emailed reply, or one marked `sent_by_hand`, sets the first response and moves the case
    to waiting_on_customer (where its status allows); a merely recorded one does neither."""
    _may_work(session, who, case_id)
    reply_to_customer(session, settings=settings, case_id=case_id, body=data.body,
                      subject=data.subject, actor=who.actor,
                      sent_by_hand=data.sent_by_hand)  # fmt: skip
    return case_detail(session, case_id=case_id)


def _may_work(session: SessionDep, who: Principal, case_id: int) -> Case:
    case = get_case(session, case_id=case_id)
    if who.user is not None and not may_work(session, who.user, case):
        raise Forbidden("agents work cases assigned to them or to their teams")
    return case
