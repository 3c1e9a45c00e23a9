"""The Source and SourceRun tables and their API schemas."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import Index, Text
from sqlmodel import Column, Field, ForeignKey, SQLModel

from hub.http.params import Changes
from hub.store.types import BigId, JsonValue, UTCDateTime, utcnow

DEFAULT_INTERVAL_SECONDS = 900
SECRET_MASK = "********"  # noqa: S105 (what a secret shows as)


class Source(SQLModel, table=True):
    """A configured origin of feedback. ``cursor`` advances only with a committed page.

    Pulled sources (a registered ``kind`` and ``interval_seconds`` > 0; sources made on first
    use by the API or imports have 0) run every ``interval_seconds``; a run holds the lease
    (``lease_owner`` until ``lease_until``) so one process pulls a source at a time.
    """

    __tablename__ = "source"

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    kind: str = Field(max_length=50, index=True)
    name: str = Field(max_length=100, unique=True)
    config: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JsonValue, nullable=False)
    )
    cursor: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonValue))
    interval_seconds: int = DEFAULT_INTERVAL_SECONDS
    enabled: bool = True
    last_run_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    consecutive_failures: int = 0
    next_run_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class SourceRun(SQLModel, table=True):
    """One pull of a source: when, what it stored, and how it ended."""

    __tablename__ = "source_run"
    __table_args__ = (Index("ix_source_run_source_started", "source_id", "started_at"),)

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    source_id: int = Field(
        sa_column=Column(BigId, ForeignKey("source.id", ondelete="CASCADE"), nullable=False)
    )
    owner: str = Field(max_length=64)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # running, ok or failed
    status: str = Field(default="running", max_length=16)
    pages: int = 0
    created: int = 0
    duplicate: int = 0
    rejected: int = 0
    error: str | None = Field(default=None, sa_type=Text)
    # The start of the body that could not be read (a malformed page), to diagnose it.
    sample: str | None = Field(default=None, sa_type=Text)


class SourceRunPublic(BaseModel):
    """A run as the API shows it."""

    started_at: datetime
    finished_at: datetime | None
    status: str
    pages: int
    created: int
    duplicate: int
    rejected: int
    error: str | None
    sample: str | None


class SourcePublic(BaseModel):
    """A source as the API shows it: config secrets are masked, never shown back."""

    id: int
    kind: str
    name: str
    enabled: bool
    collected: bool = PydanticField(description="Pulled on a schedule by a registered collector")
    config: dict[str, Any]
    interval_seconds: int
    status: str = PydanticField(description="never_run, ok, failing, running or disabled")
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    next_run_at: datetime | None
    last_run: SourceRunPublic | None = None


class SourceDetail(SourcePublic):
    """A source with its recent runs, newest first."""

    runs: list[SourceRunPublic]


class SourceCreate(BaseModel):
    """A new collected source."""

    kind: str = PydanticField(min_length=1, max_length=50)
    name: str = PydanticField(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][\w.\-]*$")
    config: dict[str, Any] = {}
    interval_seconds: int = PydanticField(default=DEFAULT_INTERVAL_SECONDS, ge=60, le=7 * 86_400)
    enabled: bool = True


class SourceUpdate(Changes):
    """Changes to a source; ``config`` keys given replace those stored (secrets too)."""

    config: dict[str, Any] | None = None
    interval_seconds: int | None = PydanticField(default=None, ge=60, le=7 * 86_400)
    enabled: bool | None = None
