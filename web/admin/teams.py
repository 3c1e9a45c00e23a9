"""The teams page: every team with its members; admins create teams, set members, and set each
team's SLA settings (time zone, opening hours, lead, escalation on breach)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from hub.cases.sla import hours_as_text, hours_from_text
from hub.errors import HubError
from hub.http.deps import SessionDep
from hub.users.models import Role, TeamCreate, TeamUpdate, User
from hub.users.service import create_team, list_teams, list_users, set_members, update_team
from web.admin.common import Admin, Csrf, Lead, error_message, error_status, redirect, render
from web.auth import check_csrf

router = APIRouter()


@router.get("/teams", response_class=HTMLResponse)
def teams_page(request: Request, session: SessionDep, user: Lead) -> HTMLResponse:
    """Every team with its members; admins create teams and set members, leads read."""
    return _teams(request, session, user)


@router.post("/teams", response_class=HTMLResponse)
def add_team(
    request: Request,
    session: SessionDep,
    user: Admin,
    csrf_token: Csrf = "",
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    """Create an empty team."""
    check_csrf(request, csrf_token)
    try:
        create_team(session, data=TeamCreate(name=name.strip(), description=description))
    except (ValidationError, HubError) as exc:
        session.rollback()
        new = {"name": name, "description": description, "error": error_message(exc)}
        return _teams(request, session, user, new=new, status=error_status(exc))
    return redirect("/admin/teams?done=team")


@router.post("/teams/{team_id}/members")
def team_members(
    request: Request,
    session: SessionDep,
    _user: Admin,
    team_id: int,
    csrf_token: Csrf = "",
    user_ids: Annotated[list[int], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> RedirectResponse:
    """Make exactly the checked users the team's members."""
    check_csrf(request, csrf_token)
    set_members(session, team_id=team_id, user_ids=user_ids)
    return redirect(f"/admin/teams?done=members#team-{team_id}")


@router.post("/teams/{team_id}/sla", response_class=HTMLResponse)
def team_sla(
    request: Request,
    session: SessionDep,
    user: Admin,
    team_id: int,
    csrf_token: Csrf = "",
    timezone: Annotated[str, Form()] = "UTC",
    business_hours: Annotated[str, Form()] = "",
    lead_id: Annotated[str, Form()] = "",
    escalate_on_breach: Annotated[bool, Form()] = False,
) -> Response:
    """Save a team's time zone, opening hours, lead and escalation; a 422 says what is wrong."""
    check_csrf(request, csrf_token)
    try:
        hours = hours_from_text(business_hours)
        changes = TeamUpdate(
            timezone=timezone.strip(), business_hours=hours, escalate_on_breach=escalate_on_breach,
            lead_id=int(lead_id) if lead_id.isdigit() else None,
        )  # fmt: skip
        update_team(session, team_id=team_id, changes=changes)
    except (ValueError, HubError) as exc:  # ValidationError is a ValueError
        session.rollback()
        message = error_message(exc) if isinstance(exc, ValidationError | HubError) else str(exc)
        sla = {"team_id": team_id, "timezone": timezone, "business_hours": business_hours,
               "error": message}  # fmt: skip
        status = error_status(exc) if isinstance(exc, HubError) else 422
        return _teams(request, session, user, sla=sla, status=status)
    return redirect(f"/admin/teams?done=sla#team-{team_id}")


def _teams(
    request: Request,
    session: Session,
    user: User,
    *,
    new: dict[str, str] | None = None,
    sla: dict[str, object] | None = None,
    status: int = 200,
) -> HTMLResponse:
    users = list_users(session)
    context = {
        "teams": list_teams(session),
        "hours_text": hours_as_text,
        "sla": sla or {},
        "users": users,
        "by_id": {u.id: u for u in users},
        "can_edit": Role(user.role).allows(Role.admin),
        "new": new or {"name": "", "description": "", "error": ""},
    }
    return render(request, "admin_teams.html", context, status)
