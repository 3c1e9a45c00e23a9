"""The notifier every long-running worker runs: raise SLA alerts, then deliver the outbox.

Both steps are safe to run in many workers at once: an SLA alert is raised once per case (the
case row remembers it), and outbox messages are claimed under a lease before they are sent.
"""

import asyncio
import logging
import os
import socket
import threading
import uuid

import httpx
from sqlalchemy import Engine

from hub.cases.tasks import check_slas
from hub.config import Settings
from hub.notifications.delivery import Mailer, deliver_due
from hub.store.engine import session_scope

log = logging.getLogger(__name__)
HTTP_TIMEOUT = httpx.Timeout(10.0)


class Notifier:
    """Every ``notify_poll_seconds``: SLA checks, then every due outbox message."""

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

    async def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; a failing round is logged and the next one goes on."""
        log.info("notifier %s started", self.owner)
        async with httpx.AsyncClient(transport=self.transport, timeout=HTTP_TIMEOUT) as http:
            while not stop.is_set():
                try:
                    await self.round(http)
                except Exception:  # the database restarting, say: try again next tick
                    log.exception("notifier: a round failed")
                await asyncio.to_thread(stop.wait, self.settings.notify_poll_seconds)
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
