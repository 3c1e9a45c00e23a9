"""The users page (admins): create users, change their role, deactivate or reactivate them."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from hub.auth.sessions import sign_out_everywhere
from hub.errors import HubError
from hub.http.deps import SessionDep
from hub.users.models import Role, User, UserCreate, UserPublic, UserUpdate
from hub.users.service import create_user, get_user, list_users, update_user
from web.admin.common import Admin, Csrf, error_message, error_status, redirect, render
from web.auth import check_csrf

router = APIRouter()


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, session: SessionDep, _user: Admin) -> HTMLResponse:
    """Every user with role, teams and whether they may sign in."""
    return _users(request, session)


@router.post("/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    session: SessionDep,
    _user: Admin,
    csrf_token: Csrf = "",
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = Role.agent.value,
    password: Annotated[str, Form()] = "",
) -> Response:
    """Create a user who can sign in with the given password."""
    check_csrf(request, csrf_token)
    try:
        data = UserCreate.model_validate(
            {"email": email.strip(), "name": name, "role": role, "password": password}
        )
        create_user(session, data=data)
    except (ValidationError, HubError) as exc:
        session.rollback()
        new = {"email": email, "name": name, "role": role, "error": error_message(exc)}
        return _users(request, session, new=new, status=error_status(exc))
    return redirect("/admin/users?done=user")


@router.post("/users/{user_id}/role", response_class=HTMLResponse)
def change_role(
    request: Request,
    session: SessionDep,
    me: Admin,
    user_id: int,
    csrf_token: Csrf = "",
    role: Annotated[str, Form()] = "",
) -> Response:
    """Give a user another role (the hub always keeps an active admin)."""
    check_csrf(request, csrf_token)
    return _change(request, session, me, user_id, {"role": role}, done="role")


@router.post("/users/{user_id}/active", response_class=HTMLResponse)
def change_active(
    request: Request,
    session: SessionDep,
    me: Admin,
    user_id: int,
    csrf_token: Csrf = "",
    active: Annotated[bool, Form()] = False,
) -> Response:
    """Deactivate a user (signing them out everywhere) or let them sign in again."""
    check_csrf(request, csrf_token)
    done = "active" if active else "inactive"
    return _change(request, session, me, user_id, {"active": active}, done=done)


def _change(
    request: Request,
    session: Session,
    me: User,
    user_id: int,
    changes: dict[str, Any],
    *,
    done: str,
) -> Response:
    """Apply ``changes`` to a user, or show the users page with why not."""
    who = get_user(session, user_id=user_id)
    label = who.name or who.email
    try:
        update_user(session, user_id=user_id, changes=UserUpdate.model_validate(changes))
    except (ValidationError, HubError) as exc:
        session.rollback()
        error = f"Could not change {label}: {error_message(exc)}"
        return _users(request, session, error=error, error_user=user_id, status=error_status(exc))
    if changes.get("active") is False:
        sign_out_everywhere(session, user_id=user_id)
    if user_id == me.id and not Role(me.role).allows(Role.admin):
        return redirect("/feedback")  # they demoted themselves: the page is no longer theirs
    return redirect(f"/admin/users?done={done}#user-{user_id}")


def _users(
    request: Request,
    session: Session,
    *,
    new: dict[str, str] | None = None,
    error: str = "",
    error_user: int | None = None,
    status: int = 200,
) -> HTMLResponse:
    users: list[UserPublic] = list_users(session)
    context = {
        "users": users,
        "roles": [role.value for role in Role],
        "new": new or {"email": "", "name": "", "role": Role.agent.value, "error": ""},
        "error": error,
        "error_user": error_user,
    }
    return render(request, "admin_users.html", context, status)
