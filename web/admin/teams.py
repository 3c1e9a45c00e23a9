"""The teams page: every team with its members; admins create teams and set members."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from hub.errors import HubError
from hub.http.deps import SessionDep
from hub.users.models import Role, TeamCreate, User
from hub.users.service import create_team, list_teams, list_users, set_members
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


def _teams(
    request: Request,
    session: Session,
    user: User,
    *,
    new: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    users = list_users(session)
    context = {
        "teams": list_teams(session),
        "users": users,
        "by_id": {u.id: u for u in users},
        "can_edit": Role(user.role).allows(Role.admin),
        "new": new or {"name": "", "description": "", "error": ""},
    }
    return render(request, "admin_teams.html", context, status)
