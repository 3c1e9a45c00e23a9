"""The behaviour every pull collector must show, run against an in-process fake of its API.

A collector's test module subclasses :class:`CollectorContract` with a :class:`FakeApi` that
serves records in the real API's documented shape and follows its paging and cursor rules.
The contract then drives the real runner (lease, transport with retries, store, cursor) on a
real SQLite file through ``httpx.MockTransport``: first pull, pagination, incremental pull,
429 with Retry-After, 500 then success, timeouts, malformed bodies, re-reads without
duplicates, empty text and non-ASCII text. ``tests/collectors/test_meta.py`` fails when a
registered collector has no such subclass.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
import pytest
from sqlmodel import col, select

from hub.config import Settings
from hub.feedback.models import Feedback
from hub.sources.models import Source, SourceCreate, SourceRun
from hub.sources.runner import RunReport, run_source
from hub.sources.service import create_source
from hub.store.engine import session_scope
from tests.conftest import Database

NOW = datetime.now(UTC).replace(microsecond=0)
NON_ASCII = [
    "Entrega rápida, atención excelente — ¡gracias! 🎉",
    "Não consigo pagar com cartão de crédito 😡",
    "配達が遅すぎる。サポートも返事がない",
    "Ça marche très bien, même hors ligne",
]


class FakeApi:
    """A source's API, in-process: ``respond`` serves ``records``; faults go first."""

    page_size: int = 3

    def __init__(self) -> None:
        self.records: list[Any] = []  # raw records: JSON objects, or arrays (Google Play)
        self.requests: list[httpx.Request] = []
        self.faults: list[httpx.Response | Exception] = []

    def record(self, n: int, text: str, when: datetime) -> Any:
        """A raw record in the API's documented shape, with id ``n``."""
        raise NotImplementedError

    def respond(self, request: httpx.Request) -> httpx.Response:
        """The API's answer to a listing request, following its paging and filters."""
        raise NotImplementedError

    def malformed(self) -> httpx.Response:
        """A 200 whose body is not in the documented shape."""
        return httpx.Response(200, json={"unexpected": ["shape"]})

    def is_listing(self, request: httpx.Request) -> bool:
        """Whether ``request`` reads feedback (faults apply to those, not to logins)."""
        return True

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.faults and self.is_listing(request):
            fault = self.faults.pop(0)
            if isinstance(fault, Exception):
                raise fault
            return fault
        return self.respond(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def listings(self) -> list[httpx.Request]:
        return [request for request in self.requests if self.is_listing(request)]

    def add(self, count: int, *, start: int, newest: datetime, text: str = "") -> None:
        """``count`` records with ids from ``start``, one minute apart, the first newest."""
        for offset in range(count):
            n = start + offset
            words = text or f"Feedback number {n}: the delivery was late and the box was damaged"
            self.records.append(self.record(n, words, newest - timedelta(minutes=offset)))


class CollectorContract:
    """Subclass with kind, make_api, config and record_id; check_item may add mapping checks."""

    kind: ClassVar[str]
    source_name = "contract-source"

    def make_api(self) -> FakeApi:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """The source's config; its base URL points at the fake (any host: nothing is sent)."""
        raise NotImplementedError

    def check_item(self, stored: Feedback, record: Any) -> None:
        """Source-specific checks of how a stored item maps its raw record."""

    def record_id(self, record: Any) -> str:
        """The external_id the collector should store for ``record``."""
        raise NotImplementedError

    # -- fixtures and helpers -------------------------------------------------------------

    @pytest.fixture
    def api(self) -> FakeApi:
        return self.make_api()

    @pytest.fixture
    def source(self, collector_db: Database) -> Database:
        with session_scope(collector_db.engine) as session:
            create_source(
                session,
                data=SourceCreate(kind=self.kind, name=self.source_name, config=self.config()),
            )
        return collector_db

    def pull(self, db: Database, api: FakeApi, sleeps: list[float] | None = None) -> RunReport:
        async def sleep(seconds: float) -> None:
            if sleeps is not None:
                sleeps.append(seconds)

        settings = Settings(database_url=db.url, collector_attempts=3)
        return asyncio.run(
            run_source(
                db.engine,
                name=self.source_name,
                settings=settings,
                owner="contract-test",
                transport=api.transport(),
                sleep=sleep,
            )
        )

    def stored(self, db: Database) -> list[Feedback]:
        with session_scope(db.engine) as session:
            return list(session.exec(select(Feedback).order_by(col(Feedback.external_id))).all())

    def source_row(self, db: Database) -> Source:
        with session_scope(db.engine) as session:
            row = session.exec(select(Source).where(Source.name == self.source_name)).one()
            return row

    def last_run(self, db: Database) -> SourceRun:
        with session_scope(db.engine) as session:
            return session.exec(select(SourceRun).order_by(col(SourceRun.id).desc())).first()  # type: ignore[return-value]

    # -- the contract ---------------------------------------------------------------------

    def test_first_pull_stores_every_item(self, source: Database, api: FakeApi) -> None:
        api.add(api.page_size + 1, start=100, newest=NOW - timedelta(hours=1))
        report = self.pull(source, api)
        assert (report.status, report.error) == ("ok", None)
        assert report.created == len(api.records) and report.rejected == 0
        by_id = {row.external_id: row for row in self.stored(source)}
        assert set(by_id) == {self.record_id(record) for record in api.records}
        for record in api.records:
            row = by_id[self.record_id(record)]
            assert row.text and "the delivery was late" in row.text
            assert row.created_at <= NOW
            self.check_item(row, record)
        state = self.source_row(source)
        assert state.last_error is None and state.cursor is not None
        assert state.next_run_at is not None and state.next_run_at > NOW

    def test_pagination_reads_every_page(self, source: Database, api: FakeApi) -> None:
        api.add(api.page_size * 3 + 1, start=200, newest=NOW - timedelta(hours=1))
        report = self.pull(source, api)
        assert report.status == "ok", report.error
        assert report.created == len(api.records)
        assert len(api.listings()) >= 4
        assert report.pages >= 4

    def test_incremental_pull_reads_only_what_is_new(self, source: Database, api: FakeApi) -> None:
        api.add(api.page_size * 2, start=300, newest=NOW - timedelta(hours=2))
        assert self.pull(source, api).created == len(api.records)
        before = len(api.listings())
        api.add(2, start=400, newest=NOW - timedelta(minutes=5))
        second = self.pull(source, api)
        assert (second.status, second.created) == ("ok", 2)
        assert len(api.listings()) - before <= 2  # it stopped at what it had, not a re-read
        assert len(self.stored(source)) == len(api.records)

    def test_429_waits_what_retry_after_asks(self, source: Database, api: FakeApi) -> None:
        api.add(2, start=500, newest=NOW - timedelta(hours=1))
        api.faults = [httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "slow"})]
        sleeps: list[float] = []
        report = self.pull(source, api, sleeps)
        assert (report.status, report.created) == ("ok", 2)
        assert 7.0 in sleeps

    def test_500_then_success(self, source: Database, api: FakeApi) -> None:
        api.add(2, start=600, newest=NOW - timedelta(hours=1))
        api.faults = [httpx.Response(500, text="Internal Server Error")]
        sleeps: list[float] = []
        report = self.pull(source, api, sleeps)
        assert (report.status, report.created) == ("ok", 2)
        assert len(sleeps) == 1

    def test_timeout_is_retried(self, source: Database, api: FakeApi) -> None:
        api.add(2, start=700, newest=NOW - timedelta(hours=1))
        api.faults = [httpx.ReadTimeout("the source took too long")]
        report = self.pull(source, api)
        assert (report.status, report.created) == ("ok", 2)

    def test_persistent_errors_mark_the_source_failing(
        self, source: Database, api: FakeApi
    ) -> None:
        api.add(2, start=800, newest=NOW - timedelta(hours=2))
        assert self.pull(source, api).status == "ok"
        cursor = self.source_row(source).cursor
        api.add(1, start=900, newest=NOW - timedelta(minutes=5))
        api.faults = [httpx.ReadTimeout("down")] * 3
        report = self.pull(source, api)
        state = self.source_row(source)
        assert report.status == "failed" and "timed out" in (report.error or "")
        assert state.consecutive_failures == 1 and state.last_error == report.error
        assert state.cursor == cursor  # nothing new was committed, so nothing advanced
        assert state.next_run_at is not None and state.next_run_at > NOW
        recovered = self.pull(source, api)
        assert (recovered.status, recovered.created) == ("ok", 1)
        assert self.source_row(source).consecutive_failures == 0

    def test_malformed_body_keeps_the_cursor_and_a_sample(
        self, source: Database, api: FakeApi
    ) -> None:
        api.add(2, start=1000, newest=NOW - timedelta(hours=2))
        assert self.pull(source, api).status == "ok"
        cursor = self.source_row(source).cursor
        api.add(1, start=1100, newest=NOW - timedelta(minutes=5))
        api.faults = [api.malformed()]
        report = self.pull(source, api)
        assert report.status == "failed"
        assert (report.error or "").startswith("malformed response")
        assert self.source_row(source).cursor == cursor
        assert self.last_run(source).sample
        assert len(self.stored(source)) == 2

    def test_a_failed_run_resumes_without_loss_or_duplicates(
        self, source: Database, api: FakeApi
    ) -> None:
        api.add(api.page_size * 3, start=1200, newest=NOW - timedelta(hours=1))
        api.faults = []
        # The second listing request fails for good: the first page stays committed.
        original = api.respond
        calls = {"n": 0}

        def flaky(request: httpx.Request) -> httpx.Response:
            if api.is_listing(request):
                calls["n"] += 1
                if calls["n"] == 2:
                    return httpx.Response(400, json={"error": "bad request"})
            return original(request)

        api.respond = flaky  # type: ignore[method-assign]
        first = self.pull(source, api)
        assert first.status == "failed" and "HTTP 400" in (first.error or "")
        assert 0 < first.created < len(api.records)
        api.respond = original  # type: ignore[method-assign]
        second = self.pull(source, api)
        assert second.status == "ok"
        assert first.created + second.created == len(api.records)
        assert len(self.stored(source)) == len(api.records)

    def test_an_item_seen_again_is_stored_once(self, source: Database, api: FakeApi) -> None:
        api.add(api.page_size + 1, start=1300, newest=NOW - timedelta(hours=1))
        assert self.pull(source, api).created == len(api.records)
        with session_scope(source.engine) as session:  # as if the cursor had never advanced
            row = session.exec(select(Source).where(Source.name == self.source_name)).one()
            row.cursor = None
            session.add(row)
        again = self.pull(source, api)
        assert (again.status, again.created) == ("ok", 0)
        assert again.duplicate >= len(api.records)  # page boundaries may be read twice
        assert len(self.stored(source)) == len(api.records)

    def test_empty_or_deleted_text_is_never_rejected(self, source: Database, api: FakeApi) -> None:
        api.add(1, start=1400, newest=NOW - timedelta(hours=1), text=" ")
        api.add(1, start=1401, newest=NOW - timedelta(hours=2))
        report = self.pull(source, api)
        assert report.status == "ok" and report.rejected == 0
        stored = self.stored(source)
        assert self.record_id(api.records[1]) in {row.external_id for row in stored}
        for row in stored:  # a contentless record is skipped, or kept for its score or title
            assert row.text or row.title or row.score is not None

    def stored_text(self, text: str) -> str:
        """The text a record made by ``api.record(n, text, when)`` is stored with."""
        return text

    def test_non_ascii_text_is_kept_exactly(self, source: Database, api: FakeApi) -> None:
        for offset, text in enumerate(NON_ASCII):
            api.records.append(api.record(1500 + offset, text, NOW - timedelta(minutes=offset)))
        report = self.pull(source, api)
        assert (report.status, report.created) == ("ok", len(NON_ASCII))
        assert {row.text for row in self.stored(source)} == {self.stored_text(t) for t in NON_ASCII}
