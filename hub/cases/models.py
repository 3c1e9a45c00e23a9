"""The Case and CaseEvent tables, the case lifecycle and the API schemas."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Index, Text
from sqlmodel import Column, ForeignKey, SQLModel
from sqlmodel import Field as SQLField

from hub.feedback.models import FeedbackPublic
from hub.http.params import BodyId
from hub.routing.models import Priority
from hub.store.types import BigId, JsonValue, UTCDateTime, utcnow


class Status(StrEnum):
    new = "new"
    assigned = "assigned"
    in_progress = "in_progress"
    waiting_on_customer = "waiting_on_customer"
    resolved = "resolved"
    closed = "closed"


OPEN_STATUSES = (Status.new, Status.assigned, Status.in_progress, Status.waiting_on_customer)
# Which status may follow which (reopening goes back to assigned, or new without an assignee).
TRANSITIONS: dict[Status, set[Status]] = {
    Status.new: {Status.assigned, Status.in_progress, Status.resolved, Status.closed},
    Status.assigned: {
        Status.in_progress,
        Status.waiting_on_customer,
        Status.resolved,
        Status.closed,
        Status.new,
    },
    Status.in_progress: {
        Status.waiting_on_customer,
        Status.resolved,
        Status.closed,
        Status.assigned,
    },
    Status.waiting_on_customer: {Status.in_progress, Status.resolved, Status.closed},
    Status.resolved: {Status.closed, Status.assigned, Status.new},
    Status.closed: {Status.assigned, Status.new},
}


class EventKind(StrEnum):
    created = "created"
    routed = "routed"
    assigned = "assigned"
    status_changed = "status_changed"
    priority_changed = "priority_changed"
    commented = "commented"
    replied_to_customer = "replied_to_customer"
    sla_warning = "sla_warning"
    sla_breached = "sla_breached"
    followup_sent = "followup_sent"
    followup_answered = "followup_answered"


class Case(SQLModel, table=True):
    """The follow-up of one feedback item: who owns it, its state and its SLA."""

    __tablename__ = "case_file"
    __table_args__ = (
        Index("ix_case_status_due", "status", "due_at"),
        Index("ix_case_team_status", "team_id", "status"),
        Index("ix_case_assignee_status", "assignee_id", "status"),
    )

    id: int | None = SQLField(default=None, sa_type=BigId, primary_key=True)
    feedback_id: int = SQLField(
        sa_column=Column(
            BigId, ForeignKey("feedback.id", ondelete="CASCADE"), nullable=False, unique=True
        )
    )
    team_id: int | None = SQLField(
        default=None, sa_column=Column(BigId, ForeignKey("team.id", ondelete="SET NULL"))
    )
    assignee_id: int | None = SQLField(
        default=None, sa_column=Column(BigId, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    rule_id: int | None = SQLField(
        default=None, sa_column=Column(BigId, ForeignKey("routing_rule.id", ondelete="SET NULL"))
    )
    status: str = SQLField(default=Status.new, max_length=24)
    priority: str = SQLField(default=Priority.normal, max_length=10)
    due_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    first_response_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    resolution: str | None = SQLField(default=None, sa_type=Text)
    # When the SLA is near breach (the last fifth of its window), and the alerts already raised.
    sla_warn_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    sla_warned_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    sla_breached_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    created_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class CaseEvent(SQLModel, table=True):
    """One change to a case, never edited or deleted: who, when, what before and after."""

    __tablename__ = "case_event"
    __table_args__ = (Index("ix_case_event_case_at", "case_id", "at"),)

    id: int | None = SQLField(default=None, sa_type=BigId, primary_key=True)
    case_id: int = SQLField(
        sa_column=Column(BigId, ForeignKey("case_file.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = SQLField(max_length=32)
    actor: str = SQLField(max_length=64)
    at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    before: dict[str, Any] | None = SQLField(default=None, sa_column=Column(JsonValue))
    after: dict[str, Any] | None = SQLField(default=None, sa_column=Column(JsonValue))
    body: str | None = SQLField(default=None, sa_type=Text)


class EventPublic(BaseModel):
    """An event of the trail."""

    id: int
    kind: EventKind
    actor: str
    actor_name: str | None = None
    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    body: str | None


class CasePublic(BaseModel):
    """A case in a queue."""

    id: int
    feedback_id: int
    team_id: int | None
    team: str | None
    assignee_id: int | None
    assignee: str | None
    rule_id: int | None
    status: Status
    priority: Priority
    sla_state: str = Field(description="ok, near_breach, breached, met, missed or none")
    due_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    resolution: str | None
    created_at: datetime
    updated_at: datetime
    summary: str = Field(description="the start of the feedback's text or title")


class CaseDetail(CasePublic):
    """A case with its feedback, the customer's other feedback and the trail."""

    feedback: FeedbackPublic
    customer_history: list[FeedbackPublic]
    events: list[EventPublic]


class CasePage(BaseModel):
    """A page of a queue, with counts per status for the same filters."""

    items: list[CasePublic]
    next_cursor: str | None
    counts: dict[str, int]


class CaseOpenIn(BaseModel):
    """Open a case for a feedback item (or reopen its resolved or closed one)."""

    model_config = ConfigDict(extra="forbid")

    feedback_id: BodyId
    team_id: BodyId | None = None
    assignee_id: BodyId | None = None
    priority: Priority | None = Field(
        default=None, description="default: normal for a new case; a reopened one keeps its own"
    )
    note: str | None = Field(default=None, max_length=10_000)


class AssignIn(BaseModel):
    """Give a case to a person and/or a team (``null`` takes it away, left out keeps it)."""

    assignee_id: BodyId | None = None
    team_id: BodyId | None = None


class PriorityIn(BaseModel):
    """How urgent the case is."""

    priority: Priority


class TransitionIn(BaseModel):
    """Move a case to another status; resolving may say how."""

    status: Status
    resolution: str | None = Field(default=None, max_length=5000)


class NoteIn(BaseModel):
    """An internal note."""

    body: str = Field(min_length=1, max_length=10_000)


class ReplyIn(BaseModel):
    """A reply to the customer: emailed when possible, else recorded to send by hand."""

    body: str = Field(min_length=1, max_length=10_000)
    subject: str | None = Field(default=None, max_length=300)
    sent_by_hand: bool = Field(
        default=False,
        description="not emailed, but the agent sent it to the customer themselves: it counts "
        "as a response (first response, waiting on customer) like an emailed reply",
    )
