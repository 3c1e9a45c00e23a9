"""The Survey table, its API schemas, and the widget's request and response shapes."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    field_validator,
    model_validator,
)
from sqlmodel import Column, ForeignKey, SQLModel
from sqlmodel import Field as SQLField

from hub.customers.models import Email
from hub.http.params import Changes
from hub.store.types import BigId, JsonValue, UTCDateTime, utcnow

LANGUAGES = ("en", "es", "pt")
MAX_COMMENT_CHARS = 5_000
MAX_QUESTION_CHARS = 500
MAX_ORIGINS = 50
DEFAULT_FOLLOW_UP = {
    "en": "What is the main reason for your answer?",
    "es": "¿Cuál es el motivo principal de tu respuesta?",
    "pt": "Qual é o principal motivo da sua resposta?",
}


class SurveyType(StrEnum):
    nps = "nps"
    csat = "csat"
    ces = "ces"
    thumbs = "thumbs"


class Survey(SQLModel, table=True):
    """What a widget asks, tied to one public widget key and one ``widget`` source."""

    __tablename__ = "survey"

    id: int | None = SQLField(default=None, sa_type=BigId, primary_key=True)
    name: str = SQLField(max_length=100)
    type: str = SQLField(max_length=16)
    # {"en": str, "es": str | None, "pt": str | None}
    question: dict[str, Any] = SQLField(sa_column=Column(JsonValue, nullable=False))
    follow_up: dict[str, Any] = SQLField(sa_column=Column(JsonValue, nullable=False))
    key_id: int = SQLField(
        sa_column=Column(
            BigId, ForeignKey("api_key.id", ondelete="RESTRICT"), nullable=False, unique=True
        )
    )
    source_id: int = SQLField(
        sa_column=Column(
            BigId, ForeignKey("source.id", ondelete="RESTRICT"), nullable=False, unique=True
        )
    )
    # Whether requests without an Origin header (servers, curl) may submit with this key.
    allow_without_origin: bool = False
    active: bool = True
    created_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def normalised_origin(value: str) -> str:
    """``scheme://host[:port]`` in lower case, without a default port or a trailing slash."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"an origin is http(s)://host[:port] (got {value!r})")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"an origin has no path, query or user (got {value!r})")
    host = parts.hostname.lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{host}{port}"


def _origins(values: list[str]) -> list[str]:
    unique: list[str] = []
    for origin in (normalised_origin(value) for value in values):
        if origin not in unique:
            unique.append(origin)
    return unique


Origins = Annotated[list[str], Field(max_length=MAX_ORIGINS), AfterValidator(_origins)]
QuestionText = Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS)]


class Texts(BaseModel):
    """One text per language; English is the fallback the widget shows."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    en: QuestionText | None = None
    es: QuestionText | None = None
    pt: QuestionText | None = None


class Question(Texts):
    """The question: English is required."""

    en: QuestionText


class SurveyCreate(BaseModel):
    """A new survey; its widget key and source are made with it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(default="", max_length=100)
    type: SurveyType
    question: Question
    follow_up: Texts | None = None
    allowed_origins: Origins = Field(min_length=1)
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=1_000_000)
    allow_without_origin: bool = False


class SurveyUpdate(Changes):
    """Changes to a survey; fields left out stay (null rate limit: the HUB_ default)."""

    nullable = frozenset({"rate_limit_per_minute"})

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=100)
    question: Question | None = None
    follow_up: Texts | None = None
    allowed_origins: Origins | None = Field(default=None, min_length=1)
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=1_000_000)
    allow_without_origin: bool | None = None
    active: bool | None = None


class SurveyPublic(BaseModel):
    """A survey as the API shows it, with its public key and the snippet to embed."""

    id: int
    name: str
    type: SurveyType
    question: Texts
    follow_up: Texts
    key: str = Field(description="The public widget key (`pk_…`); safe to put in pages")
    key_id: int
    key_revoked: bool
    allowed_origins: list[str]
    rate_limit_per_minute: int | None = Field(description="null: the HUB_ default")
    allow_without_origin: bool
    active: bool
    source: str = Field(description="The `widget` source its responses are stored under")
    created_at: datetime
    snippet: str


class SurveyCreated(BaseModel):
    """What ``surveys create --json`` prints."""

    id: int
    key: str


class WidgetConfig(BaseModel):
    """What widget.js needs to render a survey."""

    survey_id: int
    type: SurveyType
    question: Texts
    follow_up: Texts


class WidgetCustomer(BaseModel):
    """Who answered, as the embedding page knows them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: Annotated[str, Field(min_length=1, max_length=255)] | StrictInt | None = None
    email: Email | None = None
    name: Annotated[str, Field(max_length=200)] | None = None
    attributes: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _needs_identity(self) -> "WidgetCustomer":
        if self.id is None and self.email is None and (self.name or self.attributes):
            raise ValueError("a customer needs an `id` or an `email`")
        return self


class ResponseIn(BaseModel):
    """A widget's submission. ``website`` is a honeypot: people never see it, bots fill it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: str = Field(min_length=1, max_length=64)
    score: StrictInt
    comment: Annotated[str, Field(max_length=MAX_COMMENT_CHARS)] | None = None
    customer: WidgetCustomer | None = None
    metadata: dict[str, Any] | None = None
    website: Any = None

    @field_validator("comment")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("contains a NUL character")
        return value or None


class ResponseResult(BaseModel):
    """A stored (or already stored) response."""

    id: int
    status: Literal["created", "duplicate"]


class ResponseAccepted(BaseModel):
    """A submission that was accepted but not stored (the honeypot was filled)."""

    status: Literal["accepted"] = "accepted"
