"""The notifier workers run: SLA alerts raised once, then delivered to a real HTTP receiver."""

import json
import threading
import time
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from hub.cases.models import Case, CaseEvent
from hub.cases.service import open_case, reply_to_customer
from hub.feedback.service import ingest
from hub.notifications.models import OutboxMessage
from hub.notifications.tasks import Notifier, start_notifier_thread
from hub.routing.models import Priority, Strategy
from hub.store.engine import session_scope
from hub.store.types import utcnow
from tests.conftest import Database
from tests.factories import item
from tests.notifications.conftest import WEBHOOK_SECRET, Receiver, notify_settings


def _case(db: Database, settings, *, overdue: bool) -> int:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        raw = item(text="<b>Checkout</b> keeps failing")
        [result] = ingest(session, raw_items=[raw]).results
        assert result.id is not None
        case = open_case(
            session, settings=settings, feedback_id=result.id, team_id=None, assignee_id=None,
            strategy=Strategy.none, priority=Priority.high, sla_hours=10, rule_id=None,
            actor="test",
        )  # fmt: skip
        if overdue:  # the SLA window has run out
            case.due_at = utcnow() - timedelta(minutes=5)
            case.sla_warn_at = utcnow() - timedelta(hours=2)
        assert case.id is not None
        return case.id


def _events(db: Database, case_id: int) -> list[str]:
    with session_scope(db.engine) as session:
        rows = session.exec(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)).all()
        return list(rows)


def _types(receiver: Receiver) -> list[str]:
    return [json.loads(hit.body)["type"] for hit in receiver.requests]


@pytest.mark.anyio
async def test_a_round_raises_a_breach_once_and_delivers_it(
    db: Database, receiver: Receiver
) -> None:
    settings = notify_settings(db, webhook_urls=f"{receiver.url}/in", webhook_secret=WEBHOOK_SECRET)
    overdue = _case(db, settings, overdue=True)
    on_time = _case(db, settings, overdue=False)
    notifier = Notifier(db.engine, settings)
    async with httpx.AsyncClient(timeout=5) as http:
        sent = await notifier.round(http)
        assert sent == 3  # two case.created, one case.sla_breached
        assert await notifier.round(http) == 0  # nothing new: the breach is raised once
    assert _events(db, overdue).count("sla_breached") == 1
    assert "sla_breached" not in _events(db, on_time)
    assert sorted(_types(receiver)) == ["case.created", "case.created", "case.sla_breached"]
    with session_scope(db.engine) as session:
        breached = session.get(Case, overdue)
        assert breached is not None and breached.sla_breached_at is not None


def test_the_worker_thread_delivers_until_stopped(db: Database, receiver: Receiver) -> None:
    settings = notify_settings(
        db, webhook_urls=f"{receiver.url}/in", webhook_secret=WEBHOOK_SECRET,
        notify_poll_seconds=0.2,
    )  # fmt: skip
    stop = threading.Event()
    thread = start_notifier_thread(db.engine, settings, stop)
    try:
        _case(db, settings, overdue=True)  # queued after the thread started
        deadline = time.monotonic() + 20
        while len(receiver.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert sorted(_types(receiver)) == ["case.created", "case.sla_breached"]


def test_a_reply_goes_to_the_customer_only(db: Database, receiver: Receiver) -> None:
    settings = notify_settings(
        db, smtp_host="127.0.0.1", webhook_urls=f"{receiver.url}/in", webhook_secret=WEBHOOK_SECRET
    )
    case_id = _case(db, settings, overdue=False)
    with session_scope(db.engine) as session:
        before = len(session.exec(select(OutboxMessage)).all())
        reply_to_customer(
            session, settings=settings, case_id=case_id, body="Sorry, Ana: fixed now.",
            subject=None, actor="user:1",
        )  # fmt: skip
        added = session.exec(select(OutboxMessage)).all()[before:]
    assert [(m.channel, m.destination) for m in added] == [("email", "ana@example.com")]
