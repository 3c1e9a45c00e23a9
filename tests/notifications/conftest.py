"""Real receivers on loopback: an SMTP server (aiosmtpd) and an HTTP server that can fail on cue."""

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlmodel
from aiosmtpd.controller import Controller
from sqlalchemy import Table, func, select, update

from hub.config import Settings
from hub.notifications.models import OutboxMessage
from hub.store.engine import session_scope
from hub.store.types import utcnow
from tests.conftest import Database

OUTBOX: Table = OutboxMessage.__table__  # type: ignore[attr-defined]
WEBHOOK_KEY = b"0123456789abcdef0123456789abcdef"
WEBHOOK_SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # base64 of WEBHOOK_KEY
REFUSED = "nobody@example.com"


@dataclass
class Mailbox:
    """What the SMTP server accepted: one (envelope sender, recipients, parsed message) each."""

    host: str
    port: int
    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


@dataclass
class Received:
    """One request the HTTP receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records POSTs; answers with the scripted (status, headers) in turn, then 200."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    always: tuple[int, dict[str, str]] | None = None
    delay: float = 0.0  # seconds each answer takes, so that concurrent senders overlap
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, received: Received) -> tuple[int, dict[str, str]]:
        time.sleep(self.delay)
        with self.lock:
            self.requests.append(received)
            if self.script:
                return self.script.pop(0)
            return self.always or (200, {})


class Server(ThreadingHTTPServer):
    # Deliverers racing in the tests open dozens of connections at once; the default backlog
    # of 5 makes the kernel reset some of them.
    request_queue_size = 128


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server on 127.0.0.1 that keeps what it accepts (no TLS, no login)."""
    box = Mailbox("127.0.0.1", free_port())
    controller = Controller(box, hostname=box.host, port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 that records every POST."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, extra = state.answer(Received(self.path, headers, body))
            reply = b"ok" if status < 300 else f"no ({status})".encode()
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *_args: object) -> None:
            return None

    server = Server(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def notify_settings(db: Database, **values: Any) -> Settings:
    """Settings for ``db`` with only the channels given in ``values`` turned on."""
    return Settings(database_url=db.url, smtp_starttls=False, **values)


def make_due(db: Database) -> None:
    """Move every pending message's next attempt into the past (time travel for back-off)."""
    with db.engine.begin() as connection:
        connection.execute(update(OUTBOX).values(next_attempt_at=utcnow()))


def count(db: Database) -> int:
    with db.engine.connect() as connection:
        total: int = connection.execute(select(func.count()).select_from(OUTBOX)).scalar_one()
        return total


def rows(db: Database) -> list[OutboxMessage]:
    with session_scope(db.engine) as session:
        return list(session.exec(sqlmodel.select(OutboxMessage).order_by(OUTBOX.c.id)).all())
