"""One run of a collected source: lease it, pull pages, store each page with its cursor.

The order is what makes a run safe to kill at any moment: a page's items and the cursor after
them are written in one transaction, by the lease holder only. A crash re-reads at most one page,
and the idempotent store turns the repeat into duplicates, so nothing is lost or stored twice.
A failing run keeps every page it committed, leaves the cursor at the last of them, records the
error (with a sample of a malformed body) and backs the source off; other sources go on.
"""

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, Table, and_, select, update
from sqlmodel import Session

import hub
from collectors.base import Cursor, MalformedResponse, Page, PullCollector
from collectors.registry import get_collector
from hub.config import Settings
from hub.errors import HubError, InvalidInput, NotFound
from hub.feedback.service import store_items, validate_items
from hub.sources.items import ingest_item
from hub.sources.models import Source, SourceRun
from hub.sources.service import validated_config
from hub.sources.transport import RateLimited, RetryingTransport, Sleep, retry_after_seconds
from hub.store.engine import session_scope
from hub.store.leases import claim, lease_free
from hub.store.types import utcnow
from hub.store.upsert import lock_for_writing

SOURCE: Table = Source.__table__  # type: ignore[attr-defined]
RUN: Table = SourceRun.__table__  # type: ignore[attr-defined]
USER_AGENT = f"feedback-hub/{hub.__version__} (self-hosted feedback collector)"
MAX_BACKOFF = timedelta(hours=24)
log = logging.getLogger(__name__)


@dataclass
class RunReport:
    """How a run went: ``ok``, ``failed``, or ``busy`` (another process holds the source)."""

    source: str
    status: str = "running"
    pages: int = 0
    created: int = 0
    duplicate: int = 0
    rejected: int = 0
    error: str | None = None
    next_run_at: datetime | None = None


@dataclass(frozen=True)
class _Claim:
    source_id: int
    name: str
    kind: str
    config: dict[str, Any]
    cursor: Cursor | None
    interval_seconds: int
    failures: int
    run_id: int


class LeaseLost(HubError):
    """Another process took the source over (this run's lease expired)."""

    code = "lease_lost"
    status_code = 409


async def run_source(
    engine: Engine,
    *,
    name: str,
    settings: Settings,
    owner: str,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = asyncio.sleep,
    on_page: Callable[[RunReport], None] | None = None,
) -> RunReport:
    """Pull the source called ``name`` once, unless another process is pulling it."""
    lease = timedelta(seconds=settings.collector_lease_seconds)
    claim = await asyncio.to_thread(_claim, engine, name=name, owner=owner, lease=lease)
    report = RunReport(name)
    if claim is None:
        report.status = "busy"
        return report
    retrying = RetryingTransport(
        transport or httpx.AsyncHTTPTransport(),
        attempts=settings.collector_attempts,
        max_wait=settings.collector_max_wait_seconds,
        sleep=sleep,
    )
    try:
        collector = get_collector(claim.kind)
        assert isinstance(collector, PullCollector), f"{claim.kind} is not pulled"
        config = validated_config(collector, claim.config)
        async with httpx.AsyncClient(
            transport=retrying,
            timeout=settings.collector_timeout_seconds,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=True,
        ) as client:
            async for page in collector.pull(client, config, claim.cursor):
                await asyncio.to_thread(_store_page, engine, claim, owner, page, lease, report)
                if on_page is not None:
                    on_page(report)
    except Exception as exc:
        await asyncio.to_thread(_finish_failed, engine, claim, owner, report, exc)
    else:
        await asyncio.to_thread(_finish_ok, engine, claim, owner, report)
    return report


def _claim(engine: Engine, *, name: str, owner: str, lease: timedelta) -> _Claim | None:
    """Take the source's lease and open a run record; None when someone else holds it."""
    now = utcnow()
    c = SOURCE.c
    with session_scope(engine) as session:
        rows = claim(
            session,
            SOURCE,
            where=and_(
                c.name == name, lease_free(c.lease_until, now, owner=c.lease_owner, me=owner)
            ),
            values={"lease_owner": owner, "lease_until": now + lease},
            returning=[
                c.id,
                c.kind,
                c.config,
                c.cursor,
                c.interval_seconds,
                c.consecutive_failures,
            ],
        )
        row = rows[0] if rows else None
        if row is not None and row.interval_seconds <= 0:
            raise InvalidInput(f"{name!r} is not a pulled source (it receives what is sent to it)")
        if row is None:
            if session.execute(select(c.id).where(c.name == name)).first() is None:
                raise NotFound(f"no source named {name!r}")
            return None
        run = SourceRun(source_id=row.id, owner=owner)
        session.add(run)
        session.flush()
        assert run.id is not None
        return _Claim(
            row.id, name, row.kind, dict(row.config or {}), row.cursor,
            row.interval_seconds, row.consecutive_failures, run.id,
        )  # fmt: skip


def _store_page(
    engine: Engine, claim: _Claim, owner: str, page: Page, lease: timedelta, report: RunReport
) -> None:
    """A page's items and the cursor after them, in one transaction, by the lease holder."""
    raw = [ingest_item(item, claim.name) for item in page.items]
    accepted, rejected = validate_items(raw)
    with session_scope(engine) as session:
        lock_for_writing(session)
        _extend_lease(session, claim, owner, lease)
        results = store_items(session, items=accepted, source_kind=claim.kind)
        created = sum(result.status == "created" for result in results)
        session.execute(
            update(SOURCE).where(SOURCE.c.id == claim.source_id).values(cursor=page.cursor)
        )
        session.execute(
            update(RUN)
            .where(RUN.c.id == claim.run_id)
            .values(
                pages=RUN.c.pages + 1,
                created=RUN.c.created + created,
                duplicate=RUN.c.duplicate + len(results) - created,
                rejected=RUN.c.rejected + len(rejected) + len(page.rejected),
            )
        )
    for result in rejected:  # items the hub cannot store: say why, loudly
        log.warning(
            "source %s: item %s rejected: %s", claim.name, result.external_id, result.errors
        )
    for reason in page.rejected:  # entries the collector could not use
        log.warning("source %s: entry rejected: %s", claim.name, reason)
    report.pages += 1
    report.created += created
    report.duplicate += len(results) - created
    report.rejected += len(rejected) + len(page.rejected)


def _extend_lease(session: Session, claim: _Claim, owner: str, lease: timedelta) -> None:
    c = SOURCE.c
    extended = session.execute(
        update(SOURCE)
        .where(and_(c.id == claim.source_id, c.lease_owner == owner))
        .values(lease_until=utcnow() + lease)
    )
    if extended.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(f"another process took over {claim.name!r}; this run stops")


def _finish_ok(engine: Engine, claim: _Claim, owner: str, report: RunReport) -> None:
    now = utcnow()
    report.status = "ok"
    report.next_run_at = now + timedelta(seconds=claim.interval_seconds)
    _finish(engine, claim, owner, report, source_values={
        "last_success_at": now, "last_error": None, "consecutive_failures": 0,
    })  # fmt: skip
    log.info(
        "source %s: %d pages, %d created, %d duplicate, %d rejected",
        claim.name, report.pages, report.created, report.duplicate, report.rejected,
    )  # fmt: skip


def _finish_failed(
    engine: Engine, claim: _Claim, owner: str, report: RunReport, exc: Exception
) -> None:
    failures = claim.failures + 1
    report.status = "failed"
    report.error = describe(exc)
    report.next_run_at = utcnow() + _backoff(claim.interval_seconds, failures, exc)
    sample = exc.sample if isinstance(exc, MalformedResponse) else None
    log.warning("source %s failed: %s%s", claim.name, report.error,
                f"; body sample: {sample[:500]!r}" if sample else "")  # fmt: skip
    if not isinstance(exc, HubError | MalformedResponse | httpx.HTTPError | RateLimited):
        log.exception("source %s: unexpected error", claim.name, exc_info=exc)
    _finish(
        engine, claim, owner, report, sample=sample,
        source_values={"last_error": report.error, "consecutive_failures": failures},
    )  # fmt: skip


def _finish(
    engine: Engine,
    claim: _Claim,
    owner: str,
    report: RunReport,
    *,
    source_values: dict[str, Any],
    sample: str | None = None,
) -> None:
    """Record the run's end and release the lease (if still ours)."""
    now = utcnow()
    with session_scope(engine) as session:
        session.execute(
            update(SOURCE)
            .where(and_(SOURCE.c.id == claim.source_id, SOURCE.c.lease_owner == owner))
            .values(
                **source_values,
                last_run_at=now,
                next_run_at=report.next_run_at,
                lease_owner=None,
                lease_until=None,
            )
        )
        session.execute(
            update(RUN)
            .where(RUN.c.id == claim.run_id)
            .values(finished_at=now, status=report.status, error=report.error, sample=sample)
        )


def describe(exc: Exception) -> str:
    """A one-line account of why a run failed, for the source's status."""
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        body = response.text[:200].strip().replace("\n", " ")
        return (
            f"HTTP {response.status_code} from {response.request.url.copy_with(query=None)}: {body}"
        )
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out calling {exc.request.url.copy_with(query=None)} (after retries)"
    if isinstance(exc, httpx.TransportError):
        return f"could not reach the source: {type(exc).__name__}: {exc}"
    if isinstance(exc, MalformedResponse):
        return f"malformed response: {exc}"
    if isinstance(exc, HubError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def _backoff(interval: int, failures: int, exc: Exception) -> timedelta:
    """Wait longer after each failure (jittered), and at least what the source asked for."""
    base = min(timedelta(seconds=max(interval, 60) * 2 ** (failures - 1)), MAX_BACKOFF)
    delay = base * random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not security)
    asked = None
    if isinstance(exc, RateLimited):
        asked = exc.retry_at - utcnow().timestamp()
    elif isinstance(exc, httpx.HTTPStatusError):
        asked = retry_after_seconds(exc.response.headers)
    if asked is not None:
        delay = max(delay, timedelta(seconds=asked))
    return delay
