"""The Feedback table, the ingest item schema and the API schemas."""

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Column, ForeignKey, SQLModel
from sqlmodel import Field as SQLField

from hub.customers.models import CustomerIn, CustomerPublic
from hub.scores import SCALES
from hub.store.storable import EARLIEST, no_nul, storable_json
from hub.store.types import BigId, JsonValue, UTCDateTime, utcnow
from hub.topics.models import AssignedTopic

MAX_TEXT_CHARS = 20_000
FUTURE_TOLERANCE = timedelta(days=1)


class CaseInsensitive(StrEnum):
    """An enum that also accepts its values in any case, with surrounding spaces."""

    @classmethod
    def _missing_(cls, value: object) -> "CaseInsensitive | None":
        if isinstance(value, str):
            member = cls._value2member_map_.get(value.strip().lower())
            return member if isinstance(member, cls) else None
        return None


class Channel(CaseInsensitive):
    survey = "survey"
    rating = "rating"
    review = "review"
    social = "social"
    ticket = "ticket"


class ScoreType(CaseInsensitive):
    nps = "nps"
    csat = "csat"
    ces = "ces"
    stars = "stars"
    thumbs = "thumbs"


class NlpState(StrEnum):
    pending = "pending"
    done = "done"
    failed = "failed"


class Feedback(SQLModel, table=True):
    """One submission. ``(source_id, external_id)`` is the idempotency key."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id", name="uq_feedback_source_external"),
        Index("ix_feedback_created_at_id", "created_at", "id"),
        Index("ix_feedback_customer_created", "customer_id", "created_at"),
    )

    id: int | None = SQLField(default=None, sa_type=BigId, primary_key=True)
    source_id: int = SQLField(
        sa_column=Column(BigId, ForeignKey("source.id", ondelete="RESTRICT"), nullable=False)
    )
    external_id: str = SQLField(max_length=255)
    channel: str = SQLField(max_length=20, index=True)
    text: str | None = SQLField(default=None, sa_type=Text)
    title: str | None = SQLField(default=None, max_length=500)
    score_type: str | None = SQLField(default=None, max_length=20, index=True)
    score: int | None = None
    answers: dict[str, Any] | None = SQLField(default=None, sa_column=Column(JsonValue))
    author: str | None = SQLField(default=None, max_length=200)
    customer_id: int | None = SQLField(
        default=None, sa_column=Column(BigId, ForeignKey("customer.id", ondelete="SET NULL"))
    )
    url: str | None = SQLField(default=None, max_length=2048)
    created_at: datetime = SQLField(sa_type=UTCDateTime, nullable=False)
    received_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    meta: dict[str, Any] | None = SQLField(default=None, sa_column=Column("metadata", JsonValue))
    content_hash: str = SQLField(max_length=64)
    language: str | None = SQLField(default=None, max_length=16, index=True)
    sentiment: str | None = SQLField(default=None, max_length=16, index=True)
    sentiment_score: float | None = None
    sentiment_confidence: float | None = None
    # "model", or "person" once someone corrected it (a labelled example for the next training).
    sentiment_by: str | None = SQLField(default=None, max_length=16)
    nlp_state: str = SQLField(default=NlpState.pending, max_length=16, index=True)
    nlp_attempts: int = 0
    nlp_model: str | None = SQLField(default=None, max_length=200)
    nlp_error: str | None = SQLField(default=None, sa_type=Text)
    # A worker's claim: who holds the item and until when (a crashed worker's claim expires).
    nlp_lease_owner: str | None = SQLField(default=None, max_length=64)
    nlp_lease_until: datetime | None = SQLField(default=None, sa_type=UTCDateTime)


def _text(value: str) -> str | None:
    """Blank text is absent; NUL characters are refused (PostgreSQL cannot store them)."""
    if not value:
        return None
    return no_nul(value)


def _customer_ref(value: Any) -> Any:
    """``"customer": "cus_1"`` is short for ``{"ref": "cus_1"}``; a blank one is absent."""
    if isinstance(value, str):
        return {"ref": value} if value.strip() else None
    return value


def _whole_number(value: Any) -> Any:
    """Refuse ``true`` and ``4.0`` as a score, never coerce them (CSV digit strings pass)."""
    if isinstance(value, bool | float):
        raise ValueError("must be a whole number, not true/false or a decimal")
    return value


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    return value


CleanText = AfterValidator(_text)
# Validators sit inside the optional types, so absent fields cost no Python call (hot path).
JsonObject = Annotated[dict[str, Any], AfterValidator(storable_json)] | None


@lru_cache(maxsize=1)
def _future_horizon(_second: int) -> datetime:
    """The latest acceptable ``created_at``, recomputed once a second."""
    return utcnow() + FUTURE_TOLERANCE


def _max(length: int) -> StringConstraints:
    return StringConstraints(max_length=length)


class FeedbackIn(BaseModel):
    """One feedback item as the API, importers, collectors and widgets send it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    source: Annotated[str, Field(min_length=1, max_length=100), CleanText]
    external_id: Annotated[str, Field(min_length=1, max_length=255), CleanText]
    channel: Channel
    text: Annotated[str, _max(MAX_TEXT_CHARS), CleanText] | None = None
    title: Annotated[str, _max(500), CleanText] | None = None
    score_type: ScoreType | None = None
    score: Annotated[int, BeforeValidator(_whole_number)] | None = None
    created_at: datetime | None = None
    author: Annotated[str, _max(200), CleanText] | None = None
    customer: Annotated[CustomerIn | None, BeforeValidator(_customer_ref)] = None
    url: Annotated[str, _max(2048), CleanText, AfterValidator(_http_url)] | None = None
    metadata: JsonObject = None
    answers: JsonObject = None

    @model_validator(mode="after")
    def _check_item(self) -> "FeedbackIn":
        if (self.score_type is None) != (self.score is None):
            raise ValueError("`score_type` and `score` go together: give both or neither")
        if self.score_type is not None and self.score is not None:
            low, high = SCALES[self.score_type].bounds
            if not low <= self.score <= high:
                raise ValueError(
                    f"score {self.score} is out of range for {self.score_type.value} ({low}-{high})"
                )
        if self.text is None and self.title is None and self.score is None:
            raise ValueError("an item needs at least one of `text`, `title` or `score`")
        if self.created_at is not None:
            if self.created_at.tzinfo is None:  # naive timestamps are taken as UTC
                self.created_at = self.created_at.replace(tzinfo=UTC)
            if self.created_at > _future_horizon(int(time.time())):
                raise ValueError("`created_at` is more than a day in the future")
            if self.created_at.year < EARLIEST.year:
                raise ValueError(f"`created_at` is before {EARLIEST}")
        return self

    def content_hash(self) -> str:
        """A digest of what the customer said, to tell a true re-send from a changed one."""
        said = [self.channel, self.title, self.text, self.score_type, self.score, self.answers]
        encoded = orjson.dumps(said, option=orjson.OPT_SORT_KEYS, default=str)
        return hashlib.sha256(encoded).hexdigest()


class FeedbackPublic(BaseModel):
    """A stored feedback item as the API shows it."""

    id: int
    source: str
    external_id: str
    channel: Channel
    text: str | None
    title: str | None
    score_type: ScoreType | None
    score: int | None
    answers: dict[str, Any] | None
    author: str | None
    customer: CustomerPublic | None
    url: str | None
    metadata: dict[str, Any] | None
    created_at: datetime
    received_at: datetime
    language: str | None
    sentiment: str | None
    sentiment_score: float | None
    sentiment_confidence: float | None = None
    sentiment_by: str | None = None
    nlp_state: NlpState
    topics: list[AssignedTopic] = []


class FeedbackPage(BaseModel):
    """One page of a listing; pass ``next_cursor`` back as ``cursor`` for the next one."""

    items: list[FeedbackPublic]
    next_cursor: str | None


# Ingest outcomes are plain dataclasses: a 100k-line import builds 100k of them, and the API
# serialises them with orjson. FastAPI still documents them in the OpenAPI schema.
@dataclass(slots=True)
class ItemError:
    """One reason an item was rejected; ``loc`` is the field path inside the item."""

    loc: list[str | int]
    message: str


@dataclass(slots=True)
class IngestResult:
    """What happened to one item of a batch."""

    index: int
    status: Literal["created", "duplicate", "rejected"]
    id: int | None = None
    source: str | None = None
    external_id: str | None = None
    note: str | None = None
    errors: list[ItemError] | None = None


@dataclass(slots=True)
class IngestSummary:
    """Results per item, in input order, and counts per status."""

    created: int
    duplicate: int
    rejected: int
    results: list[IngestResult]


class FeedbackBatchIn(BaseModel):
    """Up to ``HUB_MAX_BATCH_ITEMS`` items in one request; each is judged on its own."""

    items: list[FeedbackIn] = Field(min_length=1, max_length=1000)
