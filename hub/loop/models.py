"""The follow-up table (one per case) and the loop metrics' API schemas."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field
from sqlmodel import Column, ForeignKey, SQLModel
from sqlmodel import Field as SQLField

from hub.store.types import BigId, UTCDateTime, utcnow

SOURCE_NAME = "follow-ups"
SOURCE_KIND = "followup"


class FollowupKind(StrEnum):
    """The one question a follow-up asks: thumbs up/down, or CSAT 1-5."""

    csat = "csat"
    thumbs = "thumbs"


class Followup(SQLModel, table=True):
    """The follow-up survey of a closed case: when it went out, and the feedback answering it.

    One per case: a case reopened and closed again is not surveyed twice."""

    __tablename__ = "case_followup"

    id: int | None = SQLField(default=None, sa_type=BigId, primary_key=True)
    case_id: int = SQLField(
        sa_column=Column(
            BigId, ForeignKey("case_file.id", ondelete="CASCADE"), nullable=False, unique=True
        )
    )
    kind: str = SQLField(max_length=10)
    language: str = SQLField(max_length=8)
    sent_to: str = SQLField(max_length=320)
    sent_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = SQLField(sa_type=UTCDateTime, nullable=False)
    # The answer, stored as feedback (source "follow-ups"); null until the customer clicks.
    feedback_id: int | None = SQLField(
        default=None,
        sa_column=Column(BigId, ForeignKey("feedback.id", ondelete="SET NULL"), unique=True),
    )
    answered_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)


class Spread(BaseModel):
    """Hours from a case's creation to an event: median and p90 over the cases that have it."""

    n: int = Field(description="cases that have it")
    pending: int = Field(description="cases without it yet")
    median_hours: float | None
    p90_hours: float | None


class Share(BaseModel):
    """A proportion with its 95% Wilson interval (null when n is 0)."""

    n: int
    hits: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None


class LoopRow(BaseModel):
    """The loop metrics of one group of cases (all, a team or an agent)."""

    key: int | None = Field(description="the team or agent id; null: none, or the overall row")
    name: str
    cases: int
    first_response: Spread
    resolution: Spread
    csat: Share = Field(description="closed cases' follow-ups: share satisfied")
    recovery: Share = Field(description="closed detractor cases whose next NPS is 7-10")
    recovery_awaiting: int = Field(description="closed detractor cases with no later NPS yet")


class LoopMetrics(BaseModel):
    """The loop metrics of cases opened in a window: overall, by team and by agent."""

    start: datetime
    end: datetime
    overall: LoopRow
    by_team: list[LoopRow]
    by_agent: list[LoopRow]
