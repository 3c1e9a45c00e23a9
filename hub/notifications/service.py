"""Enqueueing notifications inside the caller's transaction, and the outbox as admins see it.

``enqueue`` only adds rows to the caller's session (it flushes, never commits): the messages
exist exactly when the change that caused them is committed. Sending is ``delivery``'s job.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from pydantic_core import to_jsonable_python
from sqlalchemy import func
from sqlmodel import Session, col, select

from hub.config import Settings
from hub.errors import Conflict, InvalidInput, NotFound
from hub.notifications.models import (
    Channel,
    EventType,
    OutboxMessage,
    OutboxPublic,
    OutboxStatus,
)
from hub.store.types import utcnow
from hub.store.wakeups import OUTBOX_QUEUED, announce

MAX_SUBJECT = 300
MAX_LIST = 500
# Slack reads these three as markup (<!channel>, <url|label>): customer text must not ping anyone.
SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def enqueue(
    session: Session,
    *,
    settings: Settings,
    event_type: str,
    case_id: int | None,
    subject: str,
    text: str,
    data: dict[str, Any],
    to_emails: Sequence[str] = (),
    broadcast: bool = True,
) -> list[OutboxMessage]:
    """Queue ``event_type`` for ``to_emails`` and, with ``broadcast``, on every configured
    Slack and webhook destination; one row per destination."""
    event = _Event(_event_type(event_type), case_id, _one_line(subject), text, data)
    slack = [settings.slack_webhook_url] if settings.slack_webhook_url and broadcast else []
    hooks = settings.webhook_url_list if broadcast else []
    messages = [
        *(_email(event, address) for address in _addresses(to_emails, settings)),
        *(_slack(event, url) for url in slack),
        *(_webhook(event, url) for url in hooks),
    ]
    session.add_all(messages)
    session.flush()
    if messages:
        announce(session, OUTBOX_QUEUED)  # wakes an idle notifier once this commits
    return messages


def list_outbox(
    session: Session, *, status: str | None = None, limit: int = 100
) -> list[OutboxPublic]:
    """Messages newest first, optionally only those with ``status``."""
    query = select(OutboxMessage).order_by(col(OutboxMessage.id).desc())
    if status is not None:
        query = query.where(OutboxMessage.status == _status(status).value)
    rows = session.exec(query.limit(max(1, min(limit, MAX_LIST)))).all()
    return [to_public(row) for row in rows]


def count_by_status(session: Session) -> dict[OutboxStatus, int]:
    """How many messages are in each status, every status included (zero when none)."""
    query = select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status))
    counts = dict.fromkeys(OutboxStatus, 0)
    for status, count in session.exec(query).all():
        counts[OutboxStatus(status)] = count
    return counts


def retry(session: Session, *, message_id: str) -> OutboxPublic:
    """Queue a failed message again, due now, with a fresh count of attempts."""
    message = session.exec(
        select(OutboxMessage).where(OutboxMessage.message_id == message_id)
    ).first()
    if message is None:
        raise NotFound(f"no outbox message {message_id!r}")
    if message.status != OutboxStatus.failed:
        raise Conflict(f"only failed messages are retried (this one is {message.status})")
    message.status = OutboxStatus.pending.value
    message.attempts = 0
    message.next_attempt_at = utcnow()
    session.add(message)
    session.flush()
    return to_public(message)


def to_public(message: OutboxMessage) -> OutboxPublic:
    """The API's view of a message; a URL shows only its origin (Slack's path is its secret)."""
    destination = message.destination
    if message.channel != Channel.email:
        destination = masked_url(destination)
    return OutboxPublic.model_validate({**message.model_dump(), "destination": destination})


def masked_url(url: str) -> str:
    """``scheme://host[:port]/…``: where a URL points, without the path or query that may be
    its credential (a Slack webhook URL is one) or the user info."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


@dataclass(frozen=True, slots=True)
class _Event:
    type: EventType
    case_id: int | None
    subject: str
    text: str
    data: dict[str, Any]

    def message(self, channel: Channel, destination: str, body: dict[str, Any]) -> OutboxMessage:
        return OutboxMessage(
            channel=channel.value,
            destination=destination,
            subject=self.subject,
            body=body,
            event_type=self.type.value,
            case_id=self.case_id,
        )


def _email(event: _Event, address: str) -> OutboxMessage:
    return event.message(Channel.email, address, {"text": event.text})


def _slack(event: _Event, url: str) -> OutboxMessage:
    shown = f"*{event.subject.translate(SLACK_ESCAPES)}*\n{event.text.translate(SLACK_ESCAPES)}"
    return event.message(Channel.slack, url, {"text": shown})


def _webhook(event: _Event, url: str) -> OutboxMessage:
    envelope = {
        "type": event.type.value,
        "timestamp": utcnow().isoformat(),
        "data": to_jsonable_python({"case_id": event.case_id, **event.data}),
    }
    return event.message(Channel.webhook, url, envelope)


def _addresses(to_emails: Sequence[str], settings: Settings) -> list[str]:
    """The distinct recipients (each checked even when email is off), or none when it is off."""
    seen: dict[str, str] = {}
    for given in to_emails:
        _name, address = parseaddr(given.strip())
        if not re.fullmatch(r"[^@\s]+@[^@\s]+", address):
            raise InvalidInput(f"not an email address: {given!r}")
        seen.setdefault(address.lower(), address)
    return list(seen.values()) if settings.smtp_host else []


def _event_type(value: str) -> EventType:
    try:
        return EventType(value)
    except ValueError:
        known = ", ".join(event.value for event in EventType)
        raise InvalidInput(f"unknown event type {value!r} (known: {known})") from None


def _status(value: str) -> OutboxStatus:
    try:
        return OutboxStatus(value)
    except ValueError:
        known = ", ".join(status.value for status in OutboxStatus)
        raise InvalidInput(f"unknown status {value!r} (known: {known})") from None


def _one_line(subject: str) -> str:
    """A subject safe for a mail header: no line breaks (header injection), bounded length."""
    return " ".join(subject.split())[:MAX_SUBJECT]
