"""FastAPI dependencies as ``Annotated`` aliases: the session, settings and API-key checks."""

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from hub.auth.models import ApiKey, Scope
from hub.auth.service import authenticate
from hub.config import Settings
from hub.store.engine import session_scope


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


def require_key(scope: Scope) -> Callable[..., ApiKey]:
    """A dependency admitting requests whose bearer key has ``scope``."""

    def dependency(
        session: SessionDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> ApiKey:
        secret = credentials.credentials.strip() if credentials else None
        return authenticate(session, secret=secret or None, scope=scope)

    return dependency


IngestKey = Annotated[ApiKey, Depends(require_key(Scope.ingest))]
ReadKey = Annotated[ApiKey, Depends(require_key(Scope.read))]
AdminKey = Annotated[ApiKey, Depends(require_key(Scope.admin))]
