"""The ApiKey table and its schemas."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel
from sqlmodel import Column, Field, SQLModel

from hub.store.types import BigId, JsonValue, UTCDateTime, utcnow


class Scope(StrEnum):
    ingest = "ingest"
    read = "read"
    admin = "admin"  # implies every other scope


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
