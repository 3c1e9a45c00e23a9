"""What every admin page shares: the role dependencies, the confirmations and page rendering."""

from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from hub.errors import HubError
from hub.users.models import Role, User
from web.auth import page_user
from web.templating import templates

Lead = Annotated[User, Depends(page_user(Role.lead))]
Admin = Annotated[User, Depends(page_user(Role.admin))]
Csrf = Annotated[str, Form()]

# The confirmation a page shows after a form redirects to it with ``?done=<key>``.
DONE = {
    "created": "Rule created.",
    "saved": "Rule saved.",
    "deleted": "Rule deleted.",
    "moved": "Order changed.",
    "team": "Team created.",
    "members": "Members saved.",
    "sla": "SLA settings saved.",
    "user": "User created.",
    "role": "Role changed.",
    "active": "User reactivated.",
    "inactive": "User deactivated and signed out everywhere.",
    "retried": "Message queued again: a deliverer sends it shortly.",
    "survey": "Survey created: paste its snippet into a page on an allowed origin.",
    "survey_saved": "Survey saved.",
    "macro": "Template created.",
    "macro_saved": "Template saved.",
    "macro_deleted": "Template deleted.",
}


def redirect(url: str) -> RedirectResponse:
    """Where a successful form post goes: a 303, so reloading does not post again."""
    return RedirectResponse(url, status_code=303)


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """An admin template with the confirmation that ``?done=`` names, if any."""
    done = DONE.get(request.query_params.get("done", ""))
    return templates.TemplateResponse(request, name, {"done": done, **context}, status_code=status)


def error_message(exc: ValidationError | HubError) -> str:
    """Why a form was refused, in one line."""
    if isinstance(exc, HubError):
        return exc.message
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
        if e["loc"] else e["msg"].removeprefix("Value error, ")
        for e in exc.errors()
    )  # fmt: skip


def error_status(exc: ValidationError | HubError) -> int:
    """The status of a refused form: the domain error's own, 422 for invalid input."""
    return exc.status_code if isinstance(exc, HubError) else 422
