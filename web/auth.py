"""Signing in and out of the web UI, and the dependency that guards every page.

Pages need a signed-in person with at least the page's role; anyone else is sent to the
sign-in page (and back afterwards). Every form carries the session's CSRF token; the sign-in
form, which comes before any session, uses a double-submit cookie instead.
"""

import secrets
from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.auth.sessions import (
    SESSION_LIFETIME,
    LoginLimits,
    TooManyAttempts,
    csrf_matches,
    sign_in,
    sign_out,
)
from hub.auth.sessions import session_user as find_session_user
from hub.errors import Forbidden, Unauthorized
from hub.http.deps import SESSION_COOKIE, SessionDep
from hub.users.models import Role, User
from web.templating import templates

LOGIN_CSRF_COOKIE = "hub_login_csrf"
router = APIRouter(include_in_schema=False)


class PageForbidden(Forbidden):
    """A signed-in person asked for a page their role does not open: an HTML 403 page."""

    def __init__(self, needed: Role, user: User) -> None:
        super().__init__(f"this page needs the {needed.value} role (you are {user.role})")
        self.needed, self.role = needed, user.role


class SignInRequired(Exception):
    """A page was asked for without a valid session."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def page_user(role: Role = Role.viewer) -> Callable[..., User]:
    """A dependency: the signed-in user, who must have ``role``; the CSRF token goes to the
    templates as ``request.state.csrf_token``, and for admins the enrichment status as
    ``request.state.nlp_status`` (the layout's banner)."""

    def dependency(request: Request, session: SessionDep) -> User:
        found = find_session_user(session, token=request.cookies.get(SESSION_COOKIE))
        if found is None:
            raise SignInRequired(
                request.url.path + (f"?{request.url.query}" if request.url.query else "")
            )
        user, user_session = found
        request.state.user = user  # the layout of the 403 page needs them too
        request.state.csrf_token = user_session.csrf_token
        if not Role(user.role).allows(role):
            session.expunge(user)  # the rollback must not expire what the 403 page shows
            raise PageForbidden(role, user)
        if user.role == Role.admin and not hasattr(request.state, "nlp_status"):
            # The layout's banner when workers enrich without sentiment (read every few seconds).
            request.state.nlp_status = request.app.state.nlp_status_cache.get(session)
        return user

    return dependency


def check_csrf(request: Request, csrf_token: str | None) -> None:
    """Refuse a form post whose CSRF token is not the session's."""
    expected = getattr(request.state, "csrf_token", None)
    if expected is None or not csrf_matches(expected, csrf_token):
        raise Forbidden("the form expired or did not come from this site: reload and try again")


def install_sign_in_redirect(app: FastAPI) -> None:
    """Send page requests without a session to the sign-in page, and people whose role does
    not open a page to an HTML 403 page (API routes keep their JSON errors)."""

    @app.exception_handler(SignInRequired)
    async def to_sign_in(_request: Request, exc: SignInRequired) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(exc.path, safe='/')}", status_code=303)

    @app.exception_handler(PageForbidden)
    async def forbidden_page(request: Request, exc: PageForbidden) -> HTMLResponse:
        context = {"needed": exc.needed.value, "role": exc.role}
        return templates.TemplateResponse(request, "forbidden.html", context, status_code=403)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, session: SessionDep, next: str = "/") -> Response:
    """The sign-in form (straight on to ``next`` when already signed in)."""
    if find_session_user(session, token=request.cookies.get(SESSION_COOKIE)):
        return RedirectResponse(_local(next), status_code=303)
    return _login_form(request, next=_local(next))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the credentials; on success set the session cookie and go on to ``next``."""
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
        return _login_form(request, next=_local(next), error="The form expired: try again.",
                           status=403)  # fmt: skip
    ip = request.client.host if request.client else "unknown"
    try:
        limits = LoginLimits.from_settings(request.app.state.settings)
        signed_in = sign_in(session, email=email, password=password, ip=ip, limits=limits)
    except TooManyAttempts as exc:
        return _login_form(request, next=_local(next), email=email, error=exc.message,
                           status=429, headers={"Retry-After": str(exc.retry_after)})  # fmt: skip
    except Unauthorized as exc:
        return _login_form(request, next=_local(next), email=email, error=exc.message,
                           status=401)  # fmt: skip
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, signed_in.token, max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True, samesite="lax", secure=request.url.scheme == "https", path="/",
    )  # fmt: skip
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    request: Request,
    session: SessionDep,
    user: Annotated[User, Depends(page_user())],
    csrf_token: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """End this browser's session."""
    check_csrf(request, csrf_token)
    sign_out(session, token=request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _login_form(
    request: Request,
    *,
    next: str,
    email: str = "",
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    context = {"next": next, "email": email, "error": error, "login_csrf": token}
    response = templates.TemplateResponse(
        request, "login.html", context, status_code=status, headers=headers
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/login")  # fmt: skip
    return response


def _local(target: str) -> str:
    """``target`` if it is a path on this site, else the start page (no open redirects)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target
