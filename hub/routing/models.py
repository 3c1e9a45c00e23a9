"""The RoutingRule and RoutingDecision tables, the rule conditions and the API schemas."""

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Text
from sqlmodel import Column, ForeignKey, SQLModel
from sqlmodel import Field as SQLField

from hub.cases.sla import SlaClock
from hub.feedback.models import Channel, ScoreType
from hub.http.params import BodyId
from hub.scores import SCALES
from hub.store.types import BigId, JsonValue, UTCDateTime, utcnow


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class Strategy(StrEnum):
    """How a rule picks a person within its team (when it names no person)."""

    none = "none"  # the case waits in the team's queue
    round_robin = "round_robin"  # the member assigned longest ago
    least_loaded = "least_loaded"  # the member with the fewest open cases


class ScoreRange(BaseModel):
    """A score of one type within bounds, e.g. NPS 0-6 (detractors)."""

    model_config = ConfigDict(extra="forbid")

    score_type: ScoreType
    min: int | None = None
    max: int | None = None

    @model_validator(mode="after")
    def _in_range(self) -> "ScoreRange":
        low, high = SCALES[self.score_type].bounds
        for bound in (self.min, self.max):
            if bound is not None and not low <= bound <= high:
                raise ValueError(f"{self.score_type.value} scores run {low}-{high}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is above max")
        return self


class NumberRange(BaseModel):
    """Bounds on a customer attribute compared as a number, e.g. ``{"min": 1000}`` for mrr."""

    model_config = ConfigDict(extra="forbid")

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> "NumberRange":
        if self.min is None and self.max is None:
            raise ValueError("give a min, a max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is above max")
        return self


def _named_attributes(names: Iterable[str]) -> None:
    if any(not name.strip() for name in names):
        raise ValueError("an attribute name is empty")


class Conditions(BaseModel):
    """What feedback a rule takes: every condition given must hold; a list matches any of it."""

    model_config = ConfigDict(extra="forbid")

    sentiments: list[str] = Field(default=[], description="negative, neutral, positive")
    scores: list[ScoreRange] = Field(default=[], description="any of these score ranges")
    topics: list[str] = Field(default=[], description="topic keys; any of them")
    source_kinds: list[str] = []
    sources: list[str] = Field(default=[], description="source names")
    channels: list[Channel] = []
    languages: list[str] = []
    segments: list[str] = Field(default=[], description="customer segments")
    attributes: dict[str, list[str]] = Field(
        default={}, description="customer attributes: each named one must be one of the values"
    )
    attribute_ranges: dict[str, NumberRange] = Field(
        default={},
        description='customer attributes compared as numbers, e.g. {"mrr": {"min": 1000}}',
    )
    keywords: list[str] = Field(
        default=[], description="whole words or phrases in title or text, any case or accents"
    )

    @model_validator(mode="after")
    def _known_sentiments(self) -> "Conditions":
        unknown = set(self.sentiments) - {"negative", "neutral", "positive"}
        if unknown:
            raise ValueError(f"unknown sentiments: {', '.join(sorted(unknown))}")
        _named_attributes([*self.attributes, *self.attribute_ranges])
        return self


class PriorityRaise(BaseModel):
    """Valuable customers: when any of these holds, the case opens a step higher (or at `to`)."""

    model_config = ConfigDict(extra="forbid")

    segments: list[str] = Field(default=[], description="customer segments, e.g. enterprise")
    attribute_ranges: dict[str, NumberRange] = Field(
        default={}, description='customer attributes as numbers, e.g. {"mrr": {"min": 1000}}'
    )
    to: Priority | None = Field(default=None, description="a named priority; none: one step up")

    @model_validator(mode="after")
    def _names_someone(self) -> "PriorityRaise":
        if not any(s.strip() for s in self.segments) and not self.attribute_ranges:
            raise ValueError("name a segment or a customer attribute to raise priority for")
        _named_attributes(self.attribute_ranges)
        return self


class RoutingRule(SQLModel, table=True):
    """An ordered rule: feedback matching ``conditions`` becomes a case for a team or person."""

    __tablename__ = "routing_rule"

    id: int | None = SQLField(default=None, sa_type=BigId, primary_key=True)
    name: str = SQLField(max_length=200)
    position: int = SQLField(index=True)
    enabled: bool = True
    conditions: dict[str, Any] = SQLField(
        default_factory=dict, sa_column=Column(JsonValue, nullable=False)
    )
    team_id: int | None = SQLField(
        default=None, sa_column=Column(BigId, ForeignKey("team.id", ondelete="SET NULL"))
    )
    assignee_id: int | None = SQLField(
        default=None, sa_column=Column(BigId, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    strategy: str = SQLField(default=Strategy.none, max_length=20)
    priority: str = SQLField(default=Priority.normal, max_length=10)
    sla_hours: float = 48.0
    raise_priority_for: dict[str, Any] | None = SQLField(
        default=None, sa_column=Column(JsonValue, nullable=True)
    )
    sla_clock: str = SQLField(default=SlaClock.customer, max_length=10)
    created_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class RoutingDecision(SQLModel, table=True):
    """What routing decided for one item, and why: kept to audit and improve the rules."""

    __tablename__ = "routing_decision"

    id: int | None = SQLField(default=None, sa_type=BigId, primary_key=True)
    feedback_id: int = SQLField(
        sa_column=Column(
            BigId, ForeignKey("feedback.id", ondelete="CASCADE"), nullable=False, unique=True
        )
    )
    rule_id: int | None = SQLField(
        default=None, sa_column=Column(BigId, ForeignKey("routing_rule.id", ondelete="SET NULL"))
    )
    case_id: int | None = SQLField(default=None, sa_type=BigId)
    reason: str = SQLField(sa_type=Text)
    decided_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class RuleDraft(BaseModel):
    """A rule as Try takes it: its destination may still be missing."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)
    enabled: bool = True
    conditions: Conditions = Conditions()
    team_id: BodyId | None = None
    assignee_id: BodyId | None = None
    strategy: Strategy = Strategy.none
    priority: Priority = Priority.normal
    sla_hours: float = Field(default=48.0, gt=0, le=24 * 90)
    raise_priority_for: PriorityRaise | None = None
    sla_clock: SlaClock = Field(
        default=SlaClock.customer,
        description="when the SLA starts: when the customer wrote (time before the hub "
        "received it capped by HUB_SLA_MAX_SPENT_SHARE) or when the case opens",
    )


class RuleIn(RuleDraft):
    """A rule as the API and forms send it to be saved: it needs a name and a destination."""

    name: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _has_an_owner(self) -> "RuleIn":
        if self.team_id is None and self.assignee_id is None:
            raise ValueError("a rule sends feedback to a team, a person, or both")
        if self.strategy != Strategy.none and self.team_id is None:
            raise ValueError("round-robin and least-loaded pick within a team: name one")
        return self


class RulePublic(RuleIn):
    """A stored rule."""

    id: int
    position: int
    created_at: datetime
    updated_at: datetime


class TrialExample(BaseModel):
    """One matched item: why it matched, and what would happen to it."""

    feedback_id: int
    link: str = Field(description="the item's page")
    text: str
    why: list[str]
    taken_by: str | None = Field(default=None, description="the earlier rule that takes it")
    case_id: int | None = Field(default=None, description="the case it already has")


class RuleTrial(BaseModel):
    """What a rule would have taken among recent feedback."""

    days: int
    examined: int
    matched: int
    taken_by_earlier_rules: int
    with_case: int = Field(description="matched items that already have a case")
    would_open: int = Field(description="matched items it would open a case for if applied")
    never_matches: list[str] = Field(description="why a condition can never match, if it cannot")
    examples: list[TrialExample]


class ApplyIn(BaseModel):
    """How far back to apply a rule."""

    model_config = ConfigDict(extra="forbid")

    days: int = Field(ge=1, le=365, description="items the customer wrote in the last days")


class ApplyResult(BaseModel):
    """What applying a rule to past feedback did."""

    matched: int
    opened: int
    skipped_with_case: int
    taken_by_earlier_rules: int
    case_ids: list[int]
