"""The ApiKey table and its schemas."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import Index
from sqlmodel import Column, Field, ForeignKey, SQLModel

from hub.store.types import BigId, JsonValue, UTCDateTime, utcnow


class Scope(StrEnum):
    ingest = "ingest"
    read = "read"
    admin = "admin"  # implies every other scope
    # A public widget key (``pk_…``): only submits responses to its own survey, from its
    # allowed origins. Made with a survey, never by ``keys create``; ``admin`` does not imply it.
    submit = "submit"


class ApiKey(SQLModel, table=True):
    """A machine credential. Only a SHA-256 digest of the secret is stored."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=32, unique=True)
    key_hash: str = Field(max_length=64)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JsonValue, nullable=False))
    allowed_origins: list[str] = Field(
        default_factory=list, sa_column=Column(JsonValue, nullable=False)
    )
    rate_limit_per_minute: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiKeyPublic(BaseModel):
    """A key as listings show it: never the secret."""

    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(BaseModel):
    """The one time the secret is shown."""

    id: int
    name: str
    scopes: list[str]
    key: str


class UserSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random token, the table its SHA-256 digest."""

    __tablename__ = "user_session"

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(
        sa_column=Column(
            BigId, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class LoginAttempt(SQLModel, table=True):
    """A sign-in try, kept a while to slow down password guessing."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_email_at", "email", "at"),)

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    email: str = Field(max_length=320)
    ip: str = Field(max_length=64, index=True)
    succeeded: bool
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
