"""Wake-ups: on PostgreSQL a commit that queues work wakes an idle worker at once; SQLite polls."""

import threading
import time
from collections.abc import Sequence

from sqlalchemy import text
from sqlmodel import Session, select

from hub.config import Settings
from hub.enrichment.worker import Worker
from hub.feedback.models import Feedback
from hub.feedback.service import ingest
from hub.notifications.service import enqueue
from hub.store.engine import session_scope
from hub.store.wakeups import FEEDBACK_PENDING, OUTBOX_QUEUED, Listener
from nlp.pipeline import Pipeline
from tests.conftest import Database
from tests.factories import item

LONG_POLL = 30.0


class English:
    """A language detector that says "en" at once (the test is about waking, not models)."""

    name = "english"

    def detect(self, texts: Sequence[str], hints: Sequence[str | None] | None = None) -> list[str]:
        return ["en"] * len(texts)


def _ingest(db: Database, text: str) -> None:
    with session_scope(db.engine) as session:
        ingest(session, raw_items=[item(text=text)])


def _waited(listener: Listener, timeout: float) -> tuple[bool, float]:
    started = time.monotonic()
    woken = listener.wait(timeout, threading.Event())
    return woken, time.monotonic() - started


def test_a_committed_ingest_wakes_a_listener_and_a_rolled_back_one_does_not(
    db: Database,
) -> None:
    with Listener(db.engine, FEEDBACK_PENDING) as listener:
        assert _waited(listener, 0.3)[0] is False  # listening from here on; nothing yet
        try:
            with session_scope(db.engine) as session:
                ingest(session, raw_items=[item(text="never committed")])
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        assert _waited(listener, 0.5)[0] is False
        _ingest(db, "committed")
        woken, took = _waited(listener, 0.5)
    # PostgreSQL delivers the notification; SQLite has none, so the worker polls.
    assert woken is (db.backend == "postgresql")
    assert took < 0.4 if woken else took >= 0.5


def test_a_worker_with_a_long_poll_picks_up_an_ingest_at_once(db: Database) -> None:
    poll = LONG_POLL if db.backend == "postgresql" else 0.5  # SQLite: polling is the way
    settings = Settings(database_url=db.url, worker_poll_seconds=poll)
    pipeline = Pipeline(language=English())
    worker = Worker(db.engine, settings, lambda _session: pipeline)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        time.sleep(1.0)  # the worker found nothing and waits
        _ingest(db, "The delivery was late again")
        started = time.monotonic()
        while time.monotonic() - started < 5 and _states(db) != ["done"]:
            time.sleep(0.05)
        took = time.monotonic() - started
    finally:
        stop.set()
        thread.join(timeout=10)
    assert _states(db) == ["done"]
    # Within about a second (2 s: this machine may be busy); the poll alone would take 30 s.
    assert took < 2.0, f"picked up after {took:.2f} s"
    assert not thread.is_alive()  # a stop ends the wait, long poll or not


def test_queued_outbox_messages_wake_the_notifier_channel(db: Database) -> None:
    hooks = "http://hooks.test/in"
    settings = Settings(database_url=db.url, webhook_urls=hooks, webhook_secret="s")
    with Listener(db.engine, OUTBOX_QUEUED) as listener:
        _waited(listener, 0.1)
        with session_scope(db.engine) as session:
            enqueue(session, settings=settings, event_type="case.created", case_id=None,
                    subject="s", text="t", data={})  # fmt: skip
        woken, _took = _waited(listener, 0.5)
    assert woken is (db.backend == "postgresql")


def _states(db: Database) -> list[str]:
    with Session(db.engine) as session:
        return list(session.exec(select(Feedback.nlp_state)).all())


def test_work_in_another_schema_wakes_nobody_here(db: Database) -> None:
    if db.backend != "postgresql":
        return  # SQLite has no notifications: nothing to keep apart
    with Listener(db.engine, FEEDBACK_PENDING) as listener:
        _waited(listener, 0.3)
        with db.engine.begin() as connection:  # what a hub in another schema announces
            connection.execute(
                text("SELECT pg_notify(:channel || '.' || left(md5('elsewhere'), 16), '')"),
                {"channel": FEEDBACK_PENDING},
            )
        assert _waited(listener, 0.5)[0] is False
        _ingest(db, "here")
        assert _waited(listener, 0.5)[0] is True
