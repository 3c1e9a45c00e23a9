"""The outbox API: admins list messages with their state and re-queue failed ones."""

import httpx
import pytest
from sqlalchemy import update

from hub.auth.service import create_key
from hub.notifications.delivery import deliver_due
from hub.notifications.service import enqueue
from hub.store.engine import session_scope
from tests.conftest import Database
from tests.notifications.conftest import (
    OUTBOX,
    WEBHOOK_SECRET,
    Receiver,
    notify_settings,
    rows,
)

pytestmark = pytest.mark.anyio
SLACK_PATH = "/services/T0/B0/secret-token"


@pytest.fixture
def admin(db: Database) -> dict[str, str]:
    with session_scope(db.engine) as session:
        key = create_key(session, name="admin", scopes=["admin"]).key
    return {"Authorization": f"Bearer {key}"}


def _queue_two(db: Database, receiver: Receiver) -> tuple[str, str]:
    """A Slack and a webhook message; the webhook one has failed for good."""
    settings = notify_settings(
        db,
        slack_webhook_url=f"{receiver.url}{SLACK_PATH}",
        webhook_urls=f"{receiver.url}/hooks/a",
        webhook_secret=WEBHOOK_SECRET,
    )
    with session_scope(db.engine) as session:
        slack, webhook = enqueue(
            session, settings=settings, event_type="case.sla_breached", case_id=3,
            subject="Case #3 breached its SLA", text="Overdue", data={},
        )  # fmt: skip
        session.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == webhook.id)
            .values(status="failed", attempts=8, last_error="HTTP 503 from receiver")
        )
    return slack.message_id, webhook.message_id


async def test_admins_list_messages_with_their_state(
    client: httpx.AsyncClient, admin: dict[str, str], db: Database, receiver: Receiver
) -> None:
    slack_id, webhook_id = _queue_two(db, receiver)
    listed = await client.get("/api/v1/outbox", headers=admin)
    assert listed.status_code == 200, listed.text
    by_id = {message["message_id"]: message for message in listed.json()}
    assert list(by_id) == [webhook_id, slack_id]  # newest first
    failed = by_id[webhook_id]
    assert (failed["status"], failed["attempts"], failed["last_error"]) == (
        "failed", 8, "HTTP 503 from receiver",
    )  # fmt: skip
    assert (failed["channel"], failed["event_type"], failed["case_id"]) == (
        "webhook", "case.sla_breached", 3,
    )  # fmt: skip
    assert by_id[slack_id]["status"] == "pending"
    assert SLACK_PATH not in listed.text  # a Slack URL is a credential: only its origin shows
    assert by_id[slack_id]["destination"] == f"{receiver.url}/…"
    only_failed = await client.get("/api/v1/outbox?status=failed&limit=5", headers=admin)
    assert [m["message_id"] for m in only_failed.json()] == [webhook_id]
    bad = await client.get("/api/v1/outbox?status=lost", headers=admin)
    assert bad.status_code == 422


async def test_a_retried_message_is_delivered(
    client: httpx.AsyncClient, admin: dict[str, str], db: Database, receiver: Receiver
) -> None:
    slack_id, webhook_id = _queue_two(db, receiver)
    retried = await client.post(f"/api/v1/outbox/{webhook_id}/retry", headers=admin)
    assert retried.status_code == 202, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    settings = notify_settings(db, webhook_secret=WEBHOOK_SECRET)
    async with httpx.AsyncClient(timeout=5) as http:
        report = await deliver_due(db.engine, settings, owner="w", http=http)
    assert sorted(report.sent) == sorted([slack_id, webhook_id])
    assert {row.status for row in rows(db)} == {"sent"}
    assert {request.headers.get("webhook-id") for request in receiver.requests} == {
        None,  # Slack's request
        webhook_id,
    }


async def test_only_failed_messages_are_retried(
    client: httpx.AsyncClient, admin: dict[str, str], db: Database, receiver: Receiver
) -> None:
    slack_id, _webhook_id = _queue_two(db, receiver)
    pending = await client.post(f"/api/v1/outbox/{slack_id}/retry", headers=admin)
    assert (pending.status_code, pending.json()["error"]["code"]) == (409, "conflict")
    unknown = await client.post("/api/v1/outbox/0123456789abcdef/retry", headers=admin)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")


async def test_the_outbox_is_for_admins_only(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database, receiver: Receiver
) -> None:
    _slack_id, webhook_id = _queue_two(db, receiver)
    assert (await client.get("/api/v1/outbox")).status_code == 401
    assert (await client.get("/api/v1/outbox", headers=auth)).status_code == 403
    retry = await client.post(f"/api/v1/outbox/{webhook_id}/retry", headers=auth)
    assert retry.status_code == 403
    assert rows(db)[1].status == "failed"
