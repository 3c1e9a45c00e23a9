"""The admin outbox page through the ASGI app: who may see it, what it lists, retrying a failure."""

import re

import httpx
import pytest
from sqlmodel import select

from hub.config import Settings
from hub.notifications.models import OutboxMessage, OutboxStatus
from hub.notifications.service import enqueue
from hub.store.engine import session_scope
from hub.store.types import utcnow
from hub.users.models import Role
from tests.conftest import Database
from tests.signin import sign_in

pytestmark = pytest.mark.anyio
WEBHOOK_SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
SECRET_PATH = "/hooks/secret-token"
HOSTILE = '<img src=x onerror="window.__pwned = 1">'


@pytest.fixture
def outbox(db: Database) -> dict[OutboxStatus, str]:
    """One webhook message in each status (the failed one with a hostile subject and error);
    returns their message ids by status."""
    settings = Settings(
        webhook_urls=f"https://hooks.example.com{SECRET_PATH}", webhook_secret=WEBHOOK_SECRET
    )
    ids: dict[OutboxStatus, str] = {}
    with session_scope(db.engine) as session:
        for n, status in enumerate(OutboxStatus):
            subject = HOSTILE if status == OutboxStatus.failed else f"Case #{n} is {status.value}"
            [message] = enqueue(
                session, settings=settings, event_type="case.assigned", case_id=None,
                subject=subject, text="A customer cannot check out.", data={},
            )  # fmt: skip
            message.status = status.value
            message.attempts = 8 if status == OutboxStatus.failed else 1
            if status == OutboxStatus.failed:
                message.last_error = f"HTTP 500 from receiver: {HOSTILE}"
            if status == OutboxStatus.sent:
                message.sent_at = utcnow()
            session.add(message)
            ids[status] = message.message_id
    return ids


@pytest.mark.parametrize("role", list(Role))
async def test_only_admins_see_the_outbox(
    client: httpx.AsyncClient, db: Database, role: Role
) -> None:
    await sign_in(client, db.engine, role)
    page = await client.get("/admin/outbox")
    if role == Role.admin:
        assert page.status_code == 200
        assert 'href="/admin/outbox" aria-current="page"' in page.text
    else:
        assert page.status_code == 403
        assert "You need the admin role" in page.text
    if role == Role.lead:  # leads see the other admin pages, without the link to this one
        assert 'href="/admin/outbox"' not in (await client.get("/admin/rules")).text


async def test_signed_out_people_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/admin/outbox?status=failed")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?next=/admin/outbox")


async def test_counts_and_lists_every_status(
    client: httpx.AsyncClient, db: Database, outbox: dict[OutboxStatus, str]
) -> None:
    await sign_in(client, db.engine, Role.admin)
    page = (await client.get("/admin/outbox")).text
    assert re.search(r">All <span class=\"count\">4</span>", page)
    for status, message_id in outbox.items():
        assert re.search(rf">{status.value.capitalize()} <span class=\"count\">1</span>", page)
        assert f'id="message-{message_id}" class="outbox-{status.value}"' in page
        assert f'<span class="status delivery-{status.value}">{status.value}</span>' in page
    assert "Case #0 is pending" in page and "case.assigned" in page
    assert "https://hooks.example.com/…" in page
    assert SECRET_PATH not in page  # the URL's path may be its credential
    assert page.count("/retry") == 1
    assert f'action="/admin/outbox/{outbox[OutboxStatus.failed]}/retry"' in page


async def test_the_status_filter_lists_only_that_status(
    client: httpx.AsyncClient, db: Database, outbox: dict[OutboxStatus, str]
) -> None:
    await sign_in(client, db.engine, Role.admin)
    page = (await client.get("/admin/outbox?status=sent")).text
    assert 'href="/admin/outbox?status=sent" class="filter-sent some" aria-current="page"' in page
    assert re.findall(r'id="message-(\w+)"', page) == [outbox[OutboxStatus.sent]]
    # A status the page does not offer lists everything rather than failing.
    unknown = await client.get("/admin/outbox?status=bogus")
    assert unknown.status_code == 200
    assert len(re.findall(r'id="message-(\w+)"', unknown.text)) == 4


async def test_hostile_subject_and_error_are_escaped(
    client: httpx.AsyncClient, db: Database, outbox: dict[OutboxStatus, str]
) -> None:
    await sign_in(client, db.engine, Role.admin)
    page = (await client.get("/admin/outbox?status=failed")).text
    assert HOSTILE not in page
    assert "<img" not in page
    escaped = "&lt;img src=x onerror=&#34;window.__pwned = 1&#34;&gt;"
    assert f'<span class="subject">{escaped}</span>' in page
    assert f'<span class="last-error">HTTP 500 from receiver: {escaped}</span>' in page


async def test_retry_queues_a_failed_message_again(
    client: httpx.AsyncClient, db: Database, outbox: dict[OutboxStatus, str]
) -> None:
    csrf = await sign_in(client, db.engine, Role.admin)
    failed = outbox[OutboxStatus.failed]
    done = await client.post(f"/admin/outbox/{failed}/retry", data={"csrf_token": csrf})
    assert done.status_code == 303
    assert done.headers["location"] == f"/admin/outbox?done=retried#message-{failed}"
    assert row(db, failed) == ("pending", 0)
    page = (await client.get(done.headers["location"])).text
    assert "Message queued again" in page
    assert f'id="message-{failed}" class="outbox-pending"' in page and "/retry" not in page


async def test_retry_refuses_a_message_that_has_not_failed(
    client: httpx.AsyncClient, db: Database, outbox: dict[OutboxStatus, str]
) -> None:
    csrf = await sign_in(client, db.engine, Role.admin)
    sent = outbox[OutboxStatus.sent]
    refused = await client.post(f"/admin/outbox/{sent}/retry", data={"csrf_token": csrf})
    assert refused.status_code == 409
    assert row(db, sent) == ("sent", 1)
    missing = await client.post("/admin/outbox/nosuchmessage/retry", data={"csrf_token": csrf})
    assert missing.status_code == 404


@pytest.mark.parametrize("token", ["", "forged"])
async def test_retry_without_the_session_csrf_token_changes_nothing(
    client: httpx.AsyncClient, db: Database, outbox: dict[OutboxStatus, str], token: str
) -> None:
    await sign_in(client, db.engine, Role.admin)
    failed = outbox[OutboxStatus.failed]
    refused = await client.post(f"/admin/outbox/{failed}/retry", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "form expired" in refused.json()["error"]["message"]
    assert row(db, failed) == ("failed", 8)


@pytest.mark.parametrize("role", [Role.viewer, Role.agent, Role.lead])
async def test_only_admins_retry(
    client: httpx.AsyncClient, db: Database, outbox: dict[OutboxStatus, str], role: Role
) -> None:
    csrf = await sign_in(client, db.engine, role)
    failed = outbox[OutboxStatus.failed]
    refused = await client.post(f"/admin/outbox/{failed}/retry", data={"csrf_token": csrf})
    assert refused.status_code == 403
    assert row(db, failed) == ("failed", 8)


def row(db: Database, message_id: str) -> tuple[str, int]:
    """A message's status and attempts as stored."""
    with session_scope(db.engine) as session:
        message = session.exec(
            select(OutboxMessage).where(OutboxMessage.message_id == message_id)
        ).one()
        return message.status, message.attempts
