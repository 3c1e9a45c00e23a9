"""The notifier (the ``notify`` worker role): raise SLA alerts, deliver the outbox, prune.

Every step is safe to run in many workers at once: an SLA alert is claimed before it is raised
(once per case), outbox messages are claimed under a lease before they are sent, and pruning
deletes in small batches. On PostgreSQL a queued message wakes an idle notifier at once.
"""

import asyncio
import logging
import os
import socket
import threading
import time
import uuid

import httpx
from sqlalchemy import Engine

from hub.cases.tasks import check_slas
from hub.config import Settings
from hub.notifications.delivery import Mailer, deliver_due
from hub.retention import prune
from hub.store.engine import session_scope
from hub.store.wakeups import OUTBOX_QUEUED, Listener

log = logging.getLogger(__name__)
HTTP_TIMEOUT = httpx.Timeout(10.0)


class Notifier:
    """Every ``notify_poll_seconds`` (or when woken): SLA checks, every due outbox message, and
    the prune when it is due."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        mailer: Mailer | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.transport = transport
        self.mailer = mailer
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.next_prune = 0.0  # monotonic time of the next prune: the first round prunes

    async def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; a failing round is logged and the next one goes on."""
        log.info("notifier %s started", self.owner)
        async with httpx.AsyncClient(transport=self.transport, timeout=HTTP_TIMEOUT) as http:
            with Listener(self.engine, OUTBOX_QUEUED) as queued:
                while not stop.is_set():
                    try:
                        await self.round(http)
                        await asyncio.to_thread(self.prune_if_due)
                    except Exception:  # the database restarting, say: try again next tick
                        log.exception("notifier: a round failed")
                    await asyncio.to_thread(queued.wait, self.settings.notify_poll_seconds, stop)
        log.info("notifier %s stopped", self.owner)

    async def round(self, http: httpx.AsyncClient) -> int:
        """One round: raise due SLA alerts, then deliver until nothing is due; returns sends."""
        await asyncio.to_thread(self._check_slas)
        sent = 0
        while True:
            report = await deliver_due(
                self.engine, self.settings, owner=self.owner, http=http, mailer=self.mailer
            )
            sent += len(report.sent)
            if report.claimed == 0:
                return sent

    def prune_if_due(self) -> dict[str, int] | None:
        """Prune old rows (``hub.retention``) if ``HUB_PRUNE_INTERVAL_HOURS`` has passed."""
        interval = self.settings.prune_interval_hours * 3600
        if interval == 0 or time.monotonic() < self.next_prune:
            return None
        self.next_prune = time.monotonic() + interval
        pruned = prune(self.engine, self.settings)
        log.info("notifier: pruned %s", ", ".join(f"{n} {what}" for what, n in pruned.items()))
        return pruned

    def _check_slas(self) -> None:
        with session_scope(self.engine) as session:
            raised = check_slas(session, settings=self.settings)
        if raised:
            log.info("notifier: raised %d SLA alerts", raised)


def start_notifier_thread(
    engine: Engine, settings: Settings, stop: threading.Event
) -> threading.Thread:
    """Run a notifier in a daemon thread until ``stop`` is set."""
    notifier = Notifier(engine, settings)
    thread = threading.Thread(
        target=lambda: asyncio.run(notifier.run(stop)), name="notifier", daemon=True
    )
    thread.start()
    return thread
