"""One feedback item's page, and opening a case for it (from this page or any list of items).

GET /feedback/{id} shows the verbatim, its score, source, channel and dates, what enrichment
read (language, sentiment with its confidence, topics with theirs), the customer and the case,
or an "Open case" form for people who work cases. POST /feedback/{id}/case opens it (or
reopens the item's closed case) and goes on to the case page; a refused or invalid form renders
the item page again with the reason.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, select

from hub.cases.models import Case
from hub.cases.service import open_case_for_item
from hub.errors import HubError, InvalidInput, NotFound
from hub.feedback.queries import get_feedback
from hub.http.deps import SessionDep, SettingsDep
from hub.http.params import PathId
from hub.routing.models import Priority
from hub.users.models import Role, User
from web.auth import check_csrf
from web.cases.common import (
    UserDep,
    body_text,
    id_choice,
    must_be_agent,
    people,
    signed_in,
    teams,
)
from web.cases.timeline import label
from web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(signed_in)])


@router.get("/feedback/{feedback_id}", response_class=HTMLResponse)
def feedback_page(
    request: Request, session: SessionDep, user: UserDep, feedback_id: PathId
) -> HTMLResponse:
    """One item: what the customer said, what enrichment read, who they are, and its case."""
    return render_item(request, session, user, feedback_id)


@router.post("/feedback/{feedback_id}/case")
def open_case_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
    feedback_id: PathId,
    team_id: Annotated[str, Form()] = "",
    assignee_id: Annotated[str, Form()] = "",
    priority: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Open a case for the item (or reopen its closed one) and go to it."""
    form = {"team_id": team_id, "assignee_id": assignee_id, "priority": priority, "note": note}
    try:
        check_csrf(request, csrf_token)
        must_be_agent(user)
        if priority and priority not in Priority.__members__:
            raise InvalidInput("choose a priority: low, normal, high or urgent")
        case = open_case_for_item(
            session, settings=settings, feedback_id=feedback_id,
            team_id=id_choice(team_id, "team"), assignee_id=id_choice(assignee_id, "person"),
            priority=Priority(priority) if priority else None, actor=f"user:{user.id}",
            note=body_text(note, "note", required=False) or None,
        )  # fmt: skip
    except HubError as exc:
        session.rollback()  # nothing of a refused form stays behind
        return render_item(request, session, user, feedback_id, error=exc.message,
                           status_code=exc.status_code, form=form)  # fmt: skip
    return RedirectResponse(f"/cases/{case.id}?done=opened", status_code=303)


def render_item(
    request: Request,
    session: Session,
    user: User,
    feedback_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    """The item page with an error (and the form as sent); the 404 page for an unknown id."""
    try:
        item = get_feedback(session, feedback_id=feedback_id)
    except NotFound as exc:
        missing = {"item": None, "feedback_id": feedback_id, "error": exc.message}
        return templates.TemplateResponse(request, "feedback.html", missing, status_code=404)
    case = session.exec(select(Case).where(Case.feedback_id == feedback_id)).first()
    may_open = Role(user.role).allows(Role.agent)
    context: dict[str, Any] = {
        "item": item,
        "feedback_id": feedback_id,
        "case": case,
        "error": error,
        "form": form or {"priority": Priority.normal.value},
        "may_open": may_open,
        "people": people(session) if may_open else [],
        "teams": teams(session) if may_open else [],
        "priorities": [p.value for p in Priority],
        "label": label,
    }
    return templates.TemplateResponse(request, "feedback.html", context, status_code=status_code)
