"""The runner on both backends: leases, lost leases, config errors, long waits, the scheduler."""

import asyncio
import threading
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from hub.config import Settings
from hub.feedback.models import Feedback
from hub.sources.models import Source, SourceCreate, SourceRun
from hub.sources.runner import RunReport, run_source
from hub.sources.scheduler import Scheduler, due_sources
from hub.sources.service import create_source
from hub.store.engine import session_scope
from hub.store.types import utcnow
from tests.collectors.contract import NOW
from tests.collectors.hackernews.test_hackernews import FakeAlgolia
from tests.conftest import Database

CONFIG = {"base_url": "https://hn.fake.test/api/v1", "query": "cestia", "page_size": 3}


def add_source(db: Database, name: str = "hn", **config: Any) -> None:
    with session_scope(db.engine) as session:
        data = SourceCreate(kind="hackernews", name=name, config={**CONFIG, **config})
        create_source(session, data=data)


def pull(
    db: Database, api: FakeAlgolia, *, name: str = "hn", owner: str = "test", **hooks: Any
) -> RunReport:
    async def no_sleep(_seconds: float) -> None:
        return None

    settings = Settings(database_url=db.url, collector_attempts=2, collector_max_wait_seconds=30)
    return asyncio.run(
        run_source(
            db.engine,
            name=name,
            settings=settings,
            owner=owner,
            transport=api.transport(),
            sleep=no_sleep,
            **hooks,
        )
    )


def source_row(db: Database, name: str = "hn") -> Source:
    with session_scope(db.engine) as session:
        return session.exec(select(Source).where(Source.name == name)).one()


def test_a_leased_source_is_busy_until_the_lease_expires(db: Database) -> None:
    add_source(db)
    api = FakeAlgolia()
    api.add(2, start=1, newest=NOW - timedelta(hours=1))
    with session_scope(db.engine) as session:
        row = session.exec(select(Source)).one()
        row.lease_owner, row.lease_until = "other-host:1", utcnow() + timedelta(minutes=5)
        session.add(row)
    assert pull(db, api).status == "busy"
    assert api.requests == []
    with session_scope(db.engine) as session:  # the other process died: its lease runs out
        row = session.exec(select(Source)).one()
        row.lease_until = utcnow() - timedelta(seconds=1)
        session.add(row)
    report = pull(db, api)
    assert (report.status, report.created) == ("ok", 2)
    assert source_row(db).lease_owner is None


def test_a_run_that_lost_its_lease_stores_nothing_more(db: Database) -> None:
    add_source(db)
    api = FakeAlgolia()
    api.add(7, start=1, newest=NOW - timedelta(hours=1))

    def steal(report: RunReport) -> None:  # after the first page, another process takes over
        with session_scope(db.engine) as session:
            row = session.exec(select(Source)).one()
            row.lease_owner = "thief:2"
            session.add(row)

    report = pull(db, api, on_page=steal)
    assert report.status == "failed" and "another process took over" in (report.error or "")
    with session_scope(db.engine) as session:
        assert len(session.exec(select(Feedback)).all()) == report.created == 3
        row = session.exec(select(Source)).one()
        assert row.lease_owner == "thief:2"  # the new holder's lease is left alone
        assert row.consecutive_failures == 0


def test_a_bad_stored_config_fails_the_run_with_the_field_named(db: Database) -> None:
    add_source(db)
    with session_scope(db.engine) as session:
        row = session.exec(select(Source)).one()
        row.config = {**CONFIG, "page_size": 0}
        session.add(row)
    report = pull(db, FakeAlgolia())
    assert report.status == "failed"
    assert "config.page_size" in (report.error or "")


def test_a_long_retry_after_reschedules_the_source_for_then(db: Database) -> None:
    add_source(db)
    api = FakeAlgolia()
    api.faults = [httpx.Response(429, headers={"Retry-After": "7200"})]
    report = pull(db, api)
    assert report.status == "failed" and "HTTP 429" in (report.error or "")
    next_run = source_row(db).next_run_at
    assert next_run is not None and next_run >= utcnow() + timedelta(seconds=7100)


def test_runs_are_recorded(db: Database) -> None:
    add_source(db)
    api = FakeAlgolia()
    api.add(4, start=1, newest=NOW - timedelta(hours=1))
    pull(db, api)
    api.faults = [api.malformed()]
    pull(db, api)
    with session_scope(db.engine) as session:
        ok, failed = session.exec(select(SourceRun).order_by(SourceRun.id)).all()  # type: ignore[arg-type]
    assert (ok.status, ok.created, ok.pages, ok.error) == ("ok", 4, 2, None)
    assert failed.status == "failed" and failed.sample and "unexpected" in failed.sample
    assert failed.finished_at is not None


def test_due_sources_are_enabled_pulled_unleased_and_due(db: Database) -> None:
    add_source(db, "due")
    add_source(db, "later")
    add_source(db, "off")
    add_source(db, "leased")
    with session_scope(db.engine) as session:
        rows = {row.name: row for row in session.exec(select(Source))}
        rows["later"].next_run_at = utcnow() + timedelta(minutes=10)
        rows["off"].enabled = False
        rows["leased"].lease_owner, rows["leased"].lease_until = (
            "x",
            utcnow() + timedelta(minutes=1),
        )
        session.add_all(rows.values())
    assert due_sources(db.engine) == ["due"]


def test_the_scheduler_runs_due_sources_and_stops(db: Database) -> None:
    add_source(db, "a")
    add_source(db, "b")
    api = FakeAlgolia()
    api.add(2, start=1, newest=NOW - timedelta(hours=1))
    settings = Settings(database_url=db.url, scheduler_poll_seconds=0.2)
    scheduler = Scheduler(db.engine, settings, transport=api.transport())
    stop = threading.Event()

    async def run_for_a_while() -> None:
        task = asyncio.create_task(scheduler.run(stop))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if all(source_row(db, n).last_run_at for n in ("a", "b")):
                break
        stop.set()
        await task

    asyncio.run(run_for_a_while())
    for name in ("a", "b"):
        row = source_row(db, name)
        assert row.last_error is None and row.last_success_at is not None
        assert row.next_run_at is not None and row.next_run_at > utcnow() + timedelta(minutes=10)
    with session_scope(db.engine) as session:  # the same items from two sources: two rows each
        assert len(session.exec(select(Feedback)).all()) == 4


@pytest.mark.parametrize("interval", [60, 3600])
def test_success_schedules_the_next_run_one_interval_later(db: Database, interval: int) -> None:
    with session_scope(db.engine) as session:
        data = SourceCreate(kind="hackernews", name="hn", config=CONFIG, interval_seconds=interval)
        create_source(session, data=data)
    before = utcnow()
    pull(db, FakeAlgolia())
    next_run = source_row(db).next_run_at
    assert next_run is not None
    assert (
        before + timedelta(seconds=interval) <= next_run <= utcnow() + timedelta(seconds=interval)
    )


def test_sources_made_on_first_use_are_never_pulled(db: Database) -> None:
    """The demo and the API make sources like "Reddit" (kind reddit) without a collector config."""
    from hub.errors import InvalidInput
    from hub.sources.service import ensure_source, list_sources

    with session_scope(db.engine) as session:
        ensure_source(session, name="Reddit", kind="reddit")
    assert due_sources(db.engine) == []
    with session_scope(db.engine) as session:
        [shown] = list_sources(session)
    assert shown.collected is False
    with pytest.raises(InvalidInput, match="not a pulled source"):
        pull(db, FakeAlgolia(), name="Reddit")
    assert source_row(db, "Reddit").lease_owner is None
