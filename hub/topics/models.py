"""Topic and FeedbackTopic tables, and the topic API schemas."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Column, ForeignKey, SQLModel
from sqlmodel import Field as SQLField

from hub.http.params import Changes
from hub.store.types import BigId, JsonValue, UTCDateTime, utcnow

LANGUAGES = ("en", "es", "pt")


class TopicOrigin(StrEnum):
    seeded = "seeded"
    curated = "curated"
    discovered = "discovered"


class AssignedBy(StrEnum):
    model = "model"
    person = "person"


class Topic(SQLModel, table=True):
    """A node of the taxonomy. ``examples`` maps a language to phrases that are about it."""

    __tablename__ = "topic"

    id: int | None = SQLField(default=None, sa_type=BigId, primary_key=True)
    key: str = SQLField(max_length=64, unique=True)
    name: str = SQLField(max_length=100)
    description: str = SQLField(default="", sa_type=Text)
    parent_id: int | None = SQLField(
        default=None, sa_column=Column(BigId, ForeignKey("topic.id", ondelete="SET NULL"))
    )
    owner_team: str | None = SQLField(default=None, max_length=100)
    origin: str = SQLField(default=TopicOrigin.curated, max_length=16)
    active: bool = True
    examples: dict[str, list[str]] = SQLField(
        default_factory=dict, sa_column=Column(JsonValue, nullable=False)
    )
    created_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class FeedbackTopic(SQLModel, table=True):
    """A topic of one feedback item, with the confidence of whoever assigned it."""

    __tablename__ = "feedback_topic"
    __table_args__ = (UniqueConstraint("feedback_id", "topic_id", name="uq_feedback_topic"),)

    id: int | None = SQLField(default=None, sa_type=BigId, primary_key=True)
    feedback_id: int = SQLField(
        sa_column=Column(BigId, ForeignKey("feedback.id", ondelete="CASCADE"), nullable=False)
    )
    topic_id: int = SQLField(
        sa_column=Column(
            BigId, ForeignKey("topic.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    confidence: float
    assigned_by: str = SQLField(default=AssignedBy.model, max_length=16)
    created_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


Examples = dict[str, list[str]]


def _clean_examples(value: Examples | None) -> Examples | None:
    if value is None:
        return None
    cleaned: Examples = {}
    for language, phrases in value.items():
        if len(language) != 2 or not language.isalpha():
            raise ValueError(
                f"example languages are ISO 639-1 codes like en, es, pt (got {language!r})"
            )
        kept = [p.strip() for p in phrases if p.strip()]
        if any(len(p) > 500 for p in kept):
            raise ValueError("an example phrase is longer than 500 characters")
        cleaned[language.lower()] = list(dict.fromkeys(kept))
    return cleaned


KEY_PATTERN = r"^[a-z][a-z0-9_]*$"


class TopicCreate(BaseModel):
    """A new curated topic."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: str = Field(min_length=2, max_length=64, pattern=KEY_PATTERN)
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    parent: str | None = Field(default=None, description="key of the parent topic")
    owner_team: str | None = Field(default=None, max_length=100)
    examples: Examples = Field(default_factory=dict)

    _examples = field_validator("examples")(_clean_examples)


class TopicUpdate(Changes):
    """Changes to a topic; absent fields stay as they are (null: no parent, no owner team)."""

    nullable = frozenset({"parent", "owner_team"})

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: str | None = Field(
        default=None, min_length=2, max_length=64, pattern=KEY_PATTERN,
        description="a new key: history stays (rollups are per topic id), rules naming the "
        "old key are changed to it",
    )  # fmt: skip
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    parent: str | None = None
    owner_team: str | None = Field(default=None, max_length=100)
    active: bool | None = None
    examples: Examples | None = None

    _examples = field_validator("examples")(_clean_examples)


class TopicPublic(BaseModel):
    """A topic as the API shows it."""

    id: int
    key: str
    name: str
    description: str
    parent: str | None
    owner_team: str | None
    origin: TopicOrigin
    active: bool
    examples: dict[str, Any]


class TopicAccept(Changes):
    """Accepting a discovered topic, optionally under a new key, name or parent."""

    nullable = frozenset({"parent", "owner_team"})

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: str | None = Field(default=None, min_length=2, max_length=64, pattern=KEY_PATTERN)
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    parent: str | None = Field(default=None, description="key of the parent topic")
    owner_team: str | None = Field(default=None, max_length=100)


class TopicMerge(BaseModel):
    """Which topic absorbs the merged one."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    into: str = Field(min_length=1, max_length=64, description="key of the topic that stays")


class TopicMerged(BaseModel):
    """What a merge did: the topic that stays, the items moved to it, the rules changed."""

    topic: TopicPublic
    moved: int = Field(description="items that carried the merged topic")
    rules: list[str] = Field(description="names of routing rules now naming the kept topic")


class AssignedTopic(BaseModel):
    """A topic of a feedback item."""

    key: str
    name: str
    confidence: float
    assigned_by: AssignedBy


class TopicCorrection(BaseModel):
    """What a person says the item is about; it replaces the model's topics for that item."""

    model_config = ConfigDict(extra="forbid")

    topics: list[str] = Field(max_length=10)
