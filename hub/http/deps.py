"""FastAPI dependencies as ``Annotated`` aliases: the session, settings and API-key checks."""

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from hub.auth.models import ApiKey, Scope
from hub.auth.service import authenticate
from hub.config import Settings


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


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
