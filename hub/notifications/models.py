"""The outbox table and its API schema.

A notification is a row written in the same transaction as the change it reports, so a rolled
back change sends nothing and a committed one is never lost; a deliverer sends it later. The
``message_id`` is stable for the row's whole life: it is the email's Message-ID and the webhook's
``webhook-id`` on every retry, so receivers can drop the repeats that at-least-once delivery makes.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Index, Text
from sqlmodel import Column, Field, SQLModel

from hub.store.types import BigId, JsonValue, UTCDateTime, utcnow


class Channel(StrEnum):
    email = "email"
    slack = "slack"
    webhook = "webhook"


class OutboxStatus(StrEnum):
    pending = "pending"  # waiting for its next attempt (due at next_attempt_at)
    sending = "sending"  # claimed by a deliverer until lease_until
    sent = "sent"
    failed = "failed"  # given up: out of attempts, or refused for good (410, 5xx SMTP reply)


class EventType(StrEnum):
    case_created = "case.created"
    case_assigned = "case.assigned"
    case_sla_warning = "case.sla_warning"
    case_sla_breached = "case.sla_breached"
    case_replied_to_customer = "case.replied_to_customer"
    case_followup = "case.followup"


def new_message_id() -> str:
    """A fresh stable id for a message (uuid4, hex)."""
    return uuid.uuid4().hex


class OutboxMessage(SQLModel, table=True):
    """One message to one destination on one channel, with its delivery state."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    message_id: str = Field(default_factory=new_message_id, max_length=32, unique=True)
    channel: str = Field(max_length=16)
    # An email address (email) or a URL (slack, webhook).
    destination: str = Field(max_length=2000)
    subject: str | None = Field(default=None, max_length=300)
    # What the channel sends: {"text"} for email and Slack, the event envelope for webhooks.
    body: dict[str, Any] = Field(sa_column=Column(JsonValue, nullable=False))
    event_type: str = Field(max_length=64)
    # No foreign key: the outbox outlives what it reports on, and stays a leaf of the schema.
    case_id: int | None = Field(default=None, sa_type=BigId, index=True)
    status: str = Field(default=OutboxStatus.pending.value, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_error: str | None = Field(default=None, sa_type=Text)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OutboxPublic(BaseModel):
    """A message as the admin API shows it: its state, not its body (customer text)."""

    message_id: str
    channel: Channel
    destination: str
    subject: str | None
    event_type: str
    case_id: int | None
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
