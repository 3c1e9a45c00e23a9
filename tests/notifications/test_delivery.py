"""Delivery end to end, over real SMTP and HTTP on loopback: what arrives, retries, giving up."""

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Sequence
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from hub.config import Settings
from hub.notifications.delivery import DeliveryReport, backoff, claim_due, deliver_due
from hub.notifications.service import enqueue
from hub.store.engine import session_scope
from hub.store.types import utcnow
from tests.conftest import Database
from tests.notifications.conftest import (
    OUTBOX,
    REFUSED,
    WEBHOOK_KEY,
    WEBHOOK_SECRET,
    Mailbox,
    Receiver,
    count,
    free_port,
    make_due,
    notify_settings,
    rows,
)

pytestmark = pytest.mark.anyio
SLACK_PATH = "/services/T0/B0/secret-token"


def _enqueue(
    db: Database, settings: Settings, *, to_emails: Sequence[str] = (), times: int = 1
) -> list[str]:
    with session_scope(db.engine) as session:
        queued = [
            message
            for n in range(times)
            for message in enqueue(
                session, settings=settings, event_type="case.assigned", case_id=40 + n,
                subject=f"Case #{40 + n} is yours", text="A customer cannot check out.\nCall them.",
                data={"assignee": "ana@example.com"}, to_emails=to_emails,
            )
        ]  # fmt: skip
    return [message.message_id for message in queued]


async def _deliver(db: Database, settings: Settings, owner: str = "d1") -> DeliveryReport:
    async with httpx.AsyncClient(timeout=5) as http:
        return await deliver_due(db.engine, settings, owner=owner, http=http)


def _webhooks(db: Database, receiver: Receiver, **values: object) -> Settings:
    return notify_settings(
        db, webhook_urls=f"{receiver.url}/hooks/a", webhook_secret=WEBHOOK_SECRET, **values
    )


def _verify(received_headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks verification, written from the spec (not from the hub's code)."""
    msg_id, timestamp = received_headers["webhook-id"], received_headers["webhook-timestamp"]
    content = f"{msg_id}.{timestamp}.{body.decode()}".encode()
    expected = base64.b64encode(hmac.new(WEBHOOK_KEY, content, hashlib.sha256).digest()).decode()
    signatures = [s.split(",", 1)[1] for s in received_headers["webhook-signature"].split()]
    return any(hmac.compare_digest(expected, s) for s in signatures)


async def test_an_email_arrives_with_its_headers(db: Database, mailbox: Mailbox) -> None:
    settings = notify_settings(db, smtp_host=mailbox.host, smtp_port=mailbox.port)
    [message_id] = _enqueue(db, settings, to_emails=["Ana Lima <ana@example.com>"])
    report = await _deliver(db, settings)
    assert report.sent == [message_id]
    [(sender, recipients, email)] = mailbox.received
    assert (sender, recipients) == ("hub@localhost", ["ana@example.com"])
    assert email["Subject"] == "Case #40 is yours"
    assert email["To"] == "ana@example.com"
    assert email["From"] == "Feedback Hub <hub@localhost>"
    assert email["Message-ID"] == f"<{message_id}@localhost>"
    assert email["X-Hub-Event"] == "case.assigned"
    text = email.get_content().replace("\r\n", "\n").strip()  # SMTP lines end in CRLF
    assert text == "A customer cannot check out.\nCall them."
    [row] = rows(db)
    assert (row.status, row.attempts, row.last_error, row.lease_owner) == ("sent", 1, None, None)
    assert row.sent_at is not None


async def test_a_refused_recipient_fails_at_once(db: Database, mailbox: Mailbox) -> None:
    settings = notify_settings(db, smtp_host=mailbox.host, smtp_port=mailbox.port)
    [message_id] = _enqueue(db, settings, to_emails=[REFUSED])
    report = await _deliver(db, settings)
    assert report.failed == [message_id]
    [row] = rows(db)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error is not None and "550" in row.last_error and REFUSED in row.last_error


async def test_an_unreachable_smtp_server_is_retried(db: Database) -> None:
    settings = notify_settings(db, smtp_host="127.0.0.1", smtp_port=free_port())
    [message_id] = _enqueue(db, settings, to_emails=["ana@example.com"])
    report = await _deliver(db, settings)
    assert report.retrying == [message_id]
    [row] = rows(db)
    assert row.status == "pending" and row.last_error is not None
    assert "ConnectionRefused" in row.last_error


async def test_slack_gets_its_json_text(db: Database, receiver: Receiver) -> None:
    settings = notify_settings(db, slack_webhook_url=f"{receiver.url}{SLACK_PATH}")
    [message_id] = _enqueue(db, settings)
    assert (await _deliver(db, settings)).sent == [message_id]
    [request] = receiver.requests
    assert request.path == SLACK_PATH
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {
        "text": "*Case #40 is yours*\nA customer cannot check out.\nCall them."
    }


async def test_a_webhook_is_signed_and_keeps_its_id_across_retries(
    db: Database, receiver: Receiver
) -> None:
    settings = _webhooks(db, receiver)
    [message_id] = _enqueue(db, settings)
    receiver.script = [(500, {})]
    first = await _deliver(db, settings)
    assert first.retrying == [message_id]
    [row] = rows(db)
    assert row.status == "pending" and row.last_error is not None
    assert row.last_error.startswith("HTTP 500 from http://127.0.0.1:")
    assert row.next_attempt_at > utcnow() + timedelta(seconds=20)  # backed off ~30 s
    assert (await _deliver(db, settings)).claimed == 0  # not due yet: nothing is sent
    assert len(receiver.requests) == 1
    make_due(db)
    assert (await _deliver(db, settings)).sent == [message_id]
    failed, succeeded = receiver.requests
    assert failed.headers["webhook-id"] == succeeded.headers["webhook-id"] == message_id
    assert failed.body == succeeded.body
    for request in (failed, succeeded):
        assert _verify(request.headers, request.body)
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
    tampered = succeeded.body.replace(b"case.assigned", b"case.created")
    assert not _verify(succeeded.headers, tampered)
    body = json.loads(succeeded.body)
    assert (body["type"], body["data"]) == (
        "case.assigned",
        {"case_id": 40, "assignee": "ana@example.com"},
    )
    assert rows(db)[0].attempts == 2


async def test_after_max_attempts_a_message_fails_with_its_error(
    db: Database, receiver: Receiver
) -> None:
    settings = _webhooks(db, receiver, notify_max_attempts=3)
    [message_id] = _enqueue(db, settings)
    receiver.always = (503, {})
    delays = []
    for _attempt in range(3):
        report = await _deliver(db, settings)
        delays.append(rows(db)[0].next_attempt_at - utcnow())
        make_due(db)
    assert report.failed == [message_id]
    assert delays[1] > delays[0] + timedelta(seconds=10)  # ~30 s, then ~60 s
    [row] = rows(db)
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.last_error is not None and "HTTP 503" in row.last_error
    assert (await _deliver(db, settings)).claimed == 0  # failed stays failed
    assert len(receiver.requests) == 3


async def test_gone_gives_up_at_once(db: Database, receiver: Receiver) -> None:
    settings = _webhooks(db, receiver)
    [message_id] = _enqueue(db, settings)
    receiver.script = [(410, {})]
    assert (await _deliver(db, settings)).failed == [message_id]
    [row] = rows(db)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error is not None and "HTTP 410" in row.last_error


async def test_too_many_requests_waits_what_retry_after_says(
    db: Database, receiver: Receiver
) -> None:
    settings = _webhooks(db, receiver)
    [message_id] = _enqueue(db, settings)
    receiver.script = [(429, {"Retry-After": "600"})]
    assert (await _deliver(db, settings)).retrying == [message_id]
    wait = rows(db)[0].next_attempt_at - utcnow()
    assert timedelta(seconds=590) < wait <= timedelta(seconds=600)


def test_back_off_grows_is_jittered_and_capped() -> None:
    assert timedelta(seconds=22.5) <= backoff(1) <= timedelta(seconds=30)
    assert timedelta(seconds=90) <= backoff(3) <= timedelta(seconds=120)
    assert timedelta(hours=4.5) <= backoff(1000) <= timedelta(hours=6)
    assert backoff(2, retry_after=5) == timedelta(seconds=5)
    assert backoff(2, retry_after=10**9) == timedelta(hours=6)
    assert len({backoff(4) for _ in range(20)}) > 1


async def test_an_expired_claim_is_delivered_by_another(db: Database, receiver: Receiver) -> None:
    settings = _webhooks(db, receiver)
    [message_id] = _enqueue(db, settings)
    [claimed] = claim_due(db.engine, owner="crashed", size=10, lease=timedelta(minutes=5))
    assert claimed.message_id == message_id
    assert (await _deliver(db, settings, owner="other")).claimed == 0  # the claim still holds
    with db.engine.begin() as connection:  # five minutes later, "crashed" never came back
        connection.execute(update(OUTBOX).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert (await _deliver(db, settings, owner="rescuer")).sent == [message_id]
    assert rows(db)[0].attempts == 2


def test_racing_deliverers_never_send_a_message_twice(db: Database, receiver: Receiver) -> None:
    settings = _webhooks(db, receiver)
    queued = _enqueue(db, settings, times=60)
    receiver.delay = 0.005
    sent: dict[str, list[str]] = {"a": [], "b": [], "c": []}
    start = threading.Barrier(len(sent))

    def deliverer(owner: str) -> None:
        async def run() -> None:
            async with httpx.AsyncClient(timeout=5) as http:
                start.wait()
                while True:
                    report = await deliver_due(
                        db.engine, settings, owner=owner, http=http, batch_size=7
                    )
                    if not report.claimed:
                        return
                    sent[owner].extend(report.sent)

        asyncio.run(run())

    threads = [threading.Thread(target=deliverer, args=(owner,)) for owner in sent]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    every = [message_id for batch in sent.values() for message_id in batch]
    assert sorted(every) == sorted(queued)  # each sent, by exactly one deliverer
    received = [request.headers["webhook-id"] for request in receiver.requests]
    assert sorted(received) == sorted(queued)  # and received exactly once
    assert sum(1 for batch in sent.values() if batch) >= 2  # they really raced
    assert count(db) == 60
