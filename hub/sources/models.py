"""The Source table and its API schema."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Text
from sqlmodel import Column, Field, SQLModel

from hub.store.types import BigId, JsonValue, UTCDateTime, utcnow


class Source(SQLModel, table=True):
    """A configured origin of feedback. ``cursor`` advances only after a batch is committed."""

    __tablename__ = "source"

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    kind: str = Field(max_length=50, index=True)
    name: str = Field(max_length=100, unique=True)
    config: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonValue, nullable=False)
    )
    cursor: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonValue))
    schedule: str | None = Field(default=None, max_length=100)
    enabled: bool = True
    last_run_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    consecutive_failures: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class SourcePublic(BaseModel):
    """A source as the API shows it (config secrets are never shown back)."""

    id: int
    kind: str
    name: str
    enabled: bool
    last_run_at: datetime | None
    last_error: str | None
