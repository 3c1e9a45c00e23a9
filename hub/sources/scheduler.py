"""The collector scheduler: runs each enabled source when it is due, a few at a time.

It runs in every worker process (`feedback-hub worker`, and the one `serve` starts), in a thread
of its own with an event loop. Several schedulers may run against one database: the source
lease lets one of them pull a given source at a time, and the others skip it.
"""

import asyncio
import logging
import os
import socket
import threading
import uuid
from datetime import datetime

import httpx
from sqlalchemy import Engine, or_
from sqlmodel import col, select

from collectors.registry import is_inbound, registered
from hub.config import Settings
from hub.sources.models import Source
from hub.sources.runner import run_source
from hub.sources.transport import Sleep
from hub.store.engine import session_scope
from hub.store.leases import lease_free
from hub.store.types import utcnow

log = logging.getLogger(__name__)


def due_sources(engine: Engine, *, now: datetime | None = None) -> list[str]:
    """Names of enabled, scheduled sources whose next run is due and whose lease is free."""
    now = now or utcnow()
    kinds = [kind for kind, collector in registered().items() if not is_inbound(collector)]
    with session_scope(engine) as session:
        names = session.exec(
            select(Source.name)
            .where(col(Source.enabled).is_(True), col(Source.kind).in_(kinds))
            .where(col(Source.interval_seconds) > 0)
            .where(or_(col(Source.next_run_at).is_(None), col(Source.next_run_at) <= now))
            .where(lease_free(col(Source.lease_until), now))
            .order_by(col(Source.next_run_at))
        ).all()
    return list(names)


def pulled_source_names(engine: Engine) -> list[str]:
    """Names of every enabled, scheduled source that a registered collector pulls."""
    kinds = [kind for kind, collector in registered().items() if not is_inbound(collector)]
    with session_scope(engine) as session:
        names = session.exec(
            select(Source.name)
            .where(col(Source.enabled).is_(True), col(Source.kind).in_(kinds))
            .where(col(Source.interval_seconds) > 0)
            .order_by(col(Source.name))
        ).all()
    return list(names)


class Scheduler:
    """Polls for due sources and runs them, at most ``collector_concurrency`` at once."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.transport = transport
        self.sleep = sleep
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    async def run(self, stop: threading.Event) -> None:
        """Start due sources until ``stop`` is set; running pulls are cancelled then."""
        running: dict[str, asyncio.Task[object]] = {}
        log.info("collector scheduler %s started", self.owner)
        while not stop.is_set():
            try:
                due = await asyncio.to_thread(due_sources, self.engine)
            except Exception:  # the database restarting, say: try again next tick
                log.exception("scheduler: could not look for due sources")
                due = []
            for name in due:
                if name not in running and len(running) < self.settings.collector_concurrency:
                    running[name] = asyncio.create_task(self._run(name))
            await self._tick(stop)
            running = {name: task for name, task in running.items() if not task.done()}
        for task in running.values():
            task.cancel()  # the lease expires; the next run resumes from the stored cursor
        await asyncio.gather(*running.values(), return_exceptions=True)
        log.info("collector scheduler %s stopped", self.owner)

    async def _run(self, name: str) -> None:
        try:
            await run_source(
                self.engine, name=name, settings=self.settings, owner=self.owner,
                transport=self.transport, sleep=self.sleep,
            )  # fmt: skip
        except Exception:
            log.exception("scheduler: run of %s failed", name)

    async def _tick(self, stop: threading.Event) -> None:
        waited = 0.0
        while waited < self.settings.scheduler_poll_seconds and not stop.is_set():
            await asyncio.sleep(0.1)
            waited += 0.1


def start_scheduler_thread(
    engine: Engine, settings: Settings, stop: threading.Event
) -> threading.Thread:
    """Run a scheduler in a daemon thread until ``stop`` is set."""
    scheduler = Scheduler(engine, settings)
    thread = threading.Thread(
        target=lambda: asyncio.run(scheduler.run(stop)), name="collector-scheduler", daemon=True
    )
    thread.start()
    return thread
