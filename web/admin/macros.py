"""The reply templates page: every template by name and language; leads and admins add, change
and delete them (the placeholders are checked as in the API)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from hub.errors import HubError
from hub.http.deps import SessionDep
from hub.macros.models import PLACEHOLDERS, MacroIn
from hub.macros.service import create_macro, delete_macro, list_macros, update_macro
from web.admin.common import Csrf, Lead, error_message, error_status, redirect, render
from web.auth import check_csrf

router = APIRouter()
Text = Annotated[str, Form()]


def macro_form(
    name: Text = "", language: Text = "", subject: Text = "", body: Text = ""
) -> dict[str, str]:
    """The template form's fields as typed (shown again when they are refused)."""
    return {"name": name, "language": language, "subject": subject, "body": body}


MacroForm = Annotated[dict[str, str], Depends(macro_form)]


@router.get("/macros", response_class=HTMLResponse)
def macros_page(request: Request, session: SessionDep, _user: Lead) -> HTMLResponse:
    """Every reply template, and the form for a new one."""
    return _page(request, session)


@router.post("/macros", response_class=HTMLResponse)
def add_macro(
    request: Request,
    session: SessionDep,
    _user: Lead,
    form: MacroForm,
    csrf_token: Csrf = "",
) -> Response:
    """A new template."""
    check_csrf(request, csrf_token)
    try:
        create_macro(session, data=MacroIn.model_validate(form))
    except (ValidationError, HubError) as exc:
        session.rollback()
        failed = {**form, "error": error_message(exc)}
        return _page(request, session, new=failed, status=error_status(exc))
    return redirect("/admin/macros?done=macro")


@router.post("/macros/{macro_id}", response_class=HTMLResponse)
def change_macro(
    request: Request,
    session: SessionDep,
    _user: Lead,
    macro_id: int,
    form: MacroForm,
    csrf_token: Csrf = "",
) -> Response:
    """Save a template's name, language, subject and body."""
    check_csrf(request, csrf_token)
    try:
        update_macro(session, macro_id=macro_id, data=MacroIn.model_validate(form))
    except (ValidationError, HubError) as exc:
        session.rollback()
        failed = {macro_id: {**form, "error": error_message(exc)}}
        return _page(request, session, edits=failed, status=error_status(exc))
    return redirect(f"/admin/macros?done=macro_saved#macro-{macro_id}")


@router.post("/macros/{macro_id}/delete")
def remove_macro(
    request: Request, session: SessionDep, _user: Lead, macro_id: int, csrf_token: Csrf = ""
) -> Response:
    """Delete a template."""
    check_csrf(request, csrf_token)
    try:
        delete_macro(session, macro_id=macro_id)
    except HubError as exc:
        session.rollback()
        return _page(request, session, error=exc.message, status=exc.status_code)
    return redirect("/admin/macros?done=macro_deleted")


def _page(
    request: Request,
    session: Session,
    *,
    new: dict[str, str] | None = None,
    edits: dict[int, dict[str, str]] | None = None,
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    context = {
        "macros": list_macros(session),
        "placeholders": ["{" + name + "}" for name in PLACEHOLDERS],
        "languages": request.app.state.settings.language_codes,
        "new": new or {"name": "", "language": "en", "subject": "", "body": "", "error": ""},
        "edits": edits or {},
        "error": error,
    }
    return render(request, "admin_reply_templates.html", context, status)
