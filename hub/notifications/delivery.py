"""The deliverer: claim due outbox messages under a lease, send each, record how it went.

Claims go through ``hub.store.leases``, like every claim loop: deliverers never wait on each
other nor share a message. The claim is committed before anything is sent, and each result is
written as soon as its send ends, by the lease holder only. Delivery is at least once: a
deliverer that dies between sending and recording leaves its claim to expire, and the message
goes out again with the same id (Message-ID, ``webhook-id``) so the receiver can drop it.
"""

import asyncio
import base64
import hashlib
import hmac
import logging
import random
import smtplib
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import httpx
import orjson
from sqlalchemy import Engine, Table, and_, or_, update

import hub
from hub.config import Settings
from hub.notifications.models import Channel, OutboxMessage, OutboxStatus
from hub.notifications.service import masked_url
from hub.sources.transport import retry_after_seconds
from hub.store.engine import session_scope
from hub.store.leases import claim
from hub.store.types import utcnow

OUTBOX: Table = OutboxMessage.__table__  # type: ignore[attr-defined]
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=6)
DEFAULT_LEASE = timedelta(minutes=5)
SMTP_TIMEOUT = 30.0
MAX_ERROR = 2000
USER_AGENT = f"feedback-hub/{hub.__version__} (notifications)"
log = logging.getLogger(__name__)

# Sends one email; blocking (smtplib), so the deliverer calls it in a thread.
Mailer = Callable[[EmailMessage], None]


class DeliveryError(Exception):
    """A send that did not go through; it is tried again later."""


class GiveUp(DeliveryError):
    """The destination refused for good (410 Gone, a 5xx SMTP reply): retrying cannot help."""


class RetryAfter(DeliveryError):
    """The destination asked to wait (429), perhaps saying how long."""

    def __init__(self, message: str, seconds: float | None) -> None:
        super().__init__(message)
        self.seconds = seconds


@dataclass
class DeliveryReport:
    """What one ``deliver_due`` call did, by message id."""

    sent: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # sent, but the lease had moved on

    @property
    def claimed(self) -> int:
        """How many messages this call claimed."""
        return len(self.sent) + len(self.retrying) + len(self.failed) + len(self.lost)

    def add(self, status: OutboxStatus | None, message_id: str) -> None:
        """Count one message under the status its send ended in (None: the lease was lost)."""
        if status is None:
            self.lost.append(message_id)
        elif status == OutboxStatus.sent:
            self.sent.append(message_id)
        elif status == OutboxStatus.failed:
            self.failed.append(message_id)
        else:
            self.retrying.append(message_id)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed message: what to send, where, and how many times it was claimed so far."""

    id: int
    message_id: str
    channel: str
    destination: str
    subject: str | None
    body: dict[str, Any]
    event_type: str
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class _Outcome:
    error: str | None = None
    final: bool = False
    retry_after: float | None = None


@dataclass(frozen=True)
class SmtpMailer:
    """Sends through ``HUB_SMTP_HOST`` with smtplib: STARTTLS and login when configured."""

    settings: Settings

    def __call__(self, message: EmailMessage) -> None:
        """Send ``message`` on a connection of its own."""
        s = self.settings
        if not s.smtp_host:
            raise DeliveryError("email is off (HUB_SMTP_HOST is empty)")
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
            smtp.send_message(message)


@dataclass(frozen=True)
class _Channels:
    settings: Settings
    http: httpx.AsyncClient
    mailer: Mailer


async def deliver_due(
    engine: Engine,
    settings: Settings,
    *,
    owner: str,
    http: httpx.AsyncClient,
    mailer: Mailer | None = None,
    batch_size: int = 50,
    concurrency: int = 8,
    lease: timedelta = DEFAULT_LEASE,
) -> DeliveryReport:
    """Send up to ``batch_size`` due messages: email by ``mailer`` (SMTP), the rest by ``http``."""
    claimed = await asyncio.to_thread(claim_due, engine, owner=owner, size=batch_size, lease=lease)
    channels = _Channels(settings, http, mailer or SmtpMailer(settings))
    gate = asyncio.Semaphore(concurrency)
    report = DeliveryReport()

    async def deliver(message: Claimed) -> None:
        async with gate:
            outcome = await _send(channels, message)
        status = await asyncio.to_thread(
            _record, engine, owner, message, outcome, settings.notify_max_attempts
        )
        report.add(status, message.message_id)

    await asyncio.gather(*(deliver(message) for message in claimed))
    return report


def claim_due(engine: Engine, *, owner: str, size: int, lease: timedelta) -> list[Claimed]:
    """Claim up to ``size`` due messages (pending and due, or sending with an expired lease)."""
    now = utcnow()
    c = OUTBOX.c
    due = or_(
        and_(c.status == OutboxStatus.pending.value, c.next_attempt_at <= now),
        and_(c.status == OutboxStatus.sending.value, c.lease_until < now),
    )
    with session_scope(engine) as session:
        rows = claim(
            session,
            OUTBOX,
            where=due,
            values={
                "status": OutboxStatus.sending.value,
                "lease_owner": owner,
                "lease_until": now + lease,
                "attempts": c.attempts + 1,
            },
            returning=[c[column.name] for column in fields(Claimed)],
            order_by=[c.next_attempt_at, c.id],
            limit=size,
        )
    return sorted((Claimed(**row._mapping) for row in rows), key=lambda claimed: claimed.id)


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    """The wait after failed attempt ``attempts``: a 429's ask, else 30 s * 2^(n-1), max 6 h."""
    if retry_after is not None:
        return min(timedelta(seconds=retry_after), MAX_DELAY)
    # Jittered (up to a quarter less) so messages failed together are not retried together.
    factor: int = 2 ** min(attempts - 1, 20)
    delay = min(BASE_DELAY * factor, MAX_DELAY)
    return delay * random.uniform(0.75, 1.0)  # noqa: S311 (jitter, not security)


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks ``webhook-signature`` of one attempt: ``v1,<base64 HMAC-SHA256>``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


async def _send(channels: _Channels, message: Claimed) -> _Outcome:
    """Send one message; what went wrong, if anything, and whether to try again."""
    send = SENDERS.get(message.channel)
    try:
        if send is None:
            raise GiveUp(f"unknown channel {message.channel!r}")
        await send(channels, message)
    except GiveUp as exc:
        return _Outcome(str(exc), final=True)
    except RetryAfter as exc:
        return _Outcome(str(exc), retry_after=exc.seconds)
    except DeliveryError as exc:
        return _Outcome(str(exc))
    except (httpx.HTTPError, OSError, smtplib.SMTPException) as exc:
        return _Outcome(_describe(exc))
    except Exception as exc:
        log.exception("outbox %s: unexpected error sending", message.message_id)
        return _Outcome(_describe(exc))
    return _Outcome()


def _describe(exc: Exception) -> str:
    # Some errors say nothing (httpx.ReadError("")): the type is then the whole story.
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def _send_email(channels: _Channels, message: Claimed) -> None:
    email = _email_message(channels.settings, message)
    try:
        await asyncio.to_thread(channels.mailer, email)
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
        raise _smtp_error(exc) from exc


def _email_message(settings: Settings, message: Claimed) -> EmailMessage:
    """The email for a claimed message; its Message-ID is the message's stable id."""
    email = EmailMessage()
    email["From"] = settings.smtp_from
    email["To"] = message.destination
    email["Subject"] = message.subject or ""
    domain = parseaddr(settings.smtp_from)[1].rpartition("@")[2] or "feedback-hub"
    email["Message-ID"] = f"<{message.message_id}@{domain}>"
    email["Date"] = format_datetime(message.created_at)
    email["X-Hub-Event"] = message.event_type
    email.set_content(str(message.body.get("text", "")))
    return email


async def _send_slack(channels: _Channels, message: Claimed) -> None:
    await _post(channels.http, message.destination, orjson.dumps(message.body), {})


async def _send_webhook(channels: _Channels, message: Claimed) -> None:
    body = orjson.dumps(message.body)
    timestamp = int(time.time())
    key = channels.settings.webhook_signing_key
    headers = {
        "webhook-id": message.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key, message.message_id, timestamp, body),
    }
    await _post(channels.http, message.destination, body, headers)


async def _post(http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> None:
    """POST JSON; 2xx is delivered, 410 gives up, 429 waits, anything else is retried."""
    response = await http.post(
        url,
        content=body,
        headers={"content-type": "application/json", "user-agent": USER_AGENT, **headers},
        follow_redirects=False,  # a redirect could lead anywhere; the URL is what was configured
    )
    if response.is_success:
        return
    excerpt = response.text[:200].strip().replace("\n", " ")
    problem = f"HTTP {response.status_code} from {masked_url(url)}: {excerpt}"
    if response.status_code == httpx.codes.GONE:
        raise GiveUp(problem)
    if response.status_code == httpx.codes.TOO_MANY_REQUESTS:
        raise RetryAfter(problem, retry_after_seconds(response.headers))
    raise DeliveryError(problem)


SENDERS: dict[str, Callable[[_Channels, Claimed], Awaitable[None]]] = {
    Channel.email.value: _send_email,
    Channel.slack.value: _send_slack,
    Channel.webhook.value: _send_webhook,
}


def _record(
    engine: Engine, owner: str, message: Claimed, outcome: _Outcome, max_attempts: int
) -> OutboxStatus | None:
    """Write how a send went, if this owner still holds the message; the status written."""
    status, values = _next_state(message, outcome, max_attempts)
    c = OUTBOX.c
    with session_scope(engine) as session:
        written = session.execute(
            update(OUTBOX)
            .where(c.id == message.id, c.lease_owner == owner)
            .where(c.status == OutboxStatus.sending.value)
            .values(**values, status=status.value, lease_owner=None, lease_until=None)
        )
    if written.rowcount != 1:  # type: ignore[attr-defined]
        log.warning("outbox %s: lease expired before its result was written", message.message_id)
        return None
    if outcome.error is not None:
        log.warning("outbox %s (%s) %s: %s", message.message_id, message.channel, status.value,
                    outcome.error)  # fmt: skip
    return status


def _next_state(
    message: Claimed, outcome: _Outcome, max_attempts: int
) -> tuple[OutboxStatus, dict[str, Any]]:
    now = utcnow()
    if outcome.error is None:
        return OutboxStatus.sent, {"sent_at": now, "last_error": None}
    error = outcome.error[:MAX_ERROR]
    if outcome.final or message.attempts >= max_attempts:
        return OutboxStatus.failed, {"last_error": error}
    delay = backoff(message.attempts, outcome.retry_after)
    return OutboxStatus.pending, {"last_error": error, "next_attempt_at": now + delay}


def _smtp_error(
    exc: smtplib.SMTPRecipientsRefused | smtplib.SMTPResponseException,
) -> DeliveryError:
    """A 5xx refusal of the recipient or of the message itself is final; the rest (4xx, or a
    5xx to the login or sender, which is a setup problem to fix) is tried again."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = exc.recipients.items()
        problem = "; ".join(
            f"{address} refused: SMTP {code} {reply.decode(errors='replace')}"
            for address, (code, reply) in replies
        )
        final = all(code >= 500 for _address, (code, _reply) in replies)
    else:
        reply = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else exc.smtp_error
        )
        problem = f"SMTP {exc.smtp_code} {reply}"
        final = isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500
    return GiveUp(problem) if final else DeliveryError(problem)
