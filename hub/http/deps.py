"""FastAPI dependencies as ``Annotated`` aliases: the session, settings and access checks."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from hub.auth.models import ApiKey, Scope
from hub.auth.service import authenticate
from hub.auth.sessions import csrf_matches, session_user
from hub.config import Settings
from hub.errors import Forbidden, Unauthorized
from hub.store.engine import session_scope
from hub.users.models import Role, User


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with session_scope(request.app.state.engine) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": commit before the response is sent, so a 2xx always means stored.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


bearer = HTTPBearer(auto_error=False, description="An API key from `feedback-hub keys create`")
SESSION_COOKIE = "hub_session"
CSRF_HEADER = "X-CSRF-Token"
# What a signed-in person needs for what a key's scope allows.
ROLE_FOR_SCOPE = {Scope.read: Role.viewer, Scope.ingest: Role.agent, Scope.admin: Role.admin}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a machine with an API key, or a signed-in person."""

    key: ApiKey | None = None
    user: User | None = None

    @property
    def actor(self) -> str:
        """How the audit trail names the caller."""
        if self.user is not None:
            return f"user:{self.user.id}"
        return f"key:{self.key.id}" if self.key is not None else "anonymous"


def require_access(scope: Scope, role: Role | None = None) -> Callable[..., Principal]:
    """Admit a bearer key with ``scope``, or a signed-in person with ``role`` (or the role that
    matches the scope). A person's unsafe requests must echo the session's CSRF token."""
    needed = role or ROLE_FOR_SCOPE[scope]

    def dependency(
        request: Request,
        session: SessionDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        secret = credentials.credentials.strip() if credentials else None
        if secret or SESSION_COOKIE not in request.cookies:
            return Principal(key=authenticate(session, secret=secret or None, scope=scope))
        signed_in = session_user(session, token=request.cookies.get(SESSION_COOKIE))
        if signed_in is None:
            raise Unauthorized("your session has ended: sign in again, or send an API key")
        user, user_session = signed_in
        if not Role(user.role).allows(needed):
            raise Forbidden(f"this needs the {needed.value} role (you are {user.role})")
        if request.method not in SAFE_METHODS and not csrf_matches(
            user_session.csrf_token, request.headers.get(CSRF_HEADER)
        ):
            raise Forbidden(f"missing or wrong {CSRF_HEADER} header")
        return Principal(user=user)

    return dependency


IngestKey = Annotated[Principal, Depends(require_access(Scope.ingest))]
ReadKey = Annotated[Principal, Depends(require_access(Scope.read))]
AdminKey = Annotated[Principal, Depends(require_access(Scope.admin))]
