"""Wake-ups: PostgreSQL ``LISTEN/NOTIFY`` tells idle workers that work arrived; polling stays.

A writer calls ``announce`` in the transaction that queues work, so the notification goes out
when (and only if) that transaction commits. A worker waits on a ``Listener``: it returns at the
first notification, or after the poll interval, so a lost notification (or SQLite, which has
none) only means the work is found at the next poll.
"""

import logging
import threading
import time
from types import TracebackType
from typing import Any, Self

import psycopg
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

#: Channels: new feedback to enrich, outbox messages to deliver.
FEEDBACK_PENDING = "hub_feedback_pending"
OUTBOX_QUEUED = "hub_outbox_queued"
#: How often a waiting listener checks whether it was asked to stop.
STOP_CHECK_SECONDS = 0.5
#: Hex digits of the schema's hash in a channel's name (see ``_scoped``).
SCHEMA_HASH = 16

log = logging.getLogger(__name__)


def announce(session: Session, channel: str) -> None:
    """Notify ``channel``'s listeners when this transaction commits (PostgreSQL; else nothing)."""
    if session.get_bind().dialect.name == "postgresql":
        # Notifications repeated in one transaction are delivered once.
        session.execute(select(func.pg_notify(_scoped(channel), "")))


def _scoped(channel: str) -> Any:
    """``channel`` for the session's schema: notifications are database-wide, so two hubs in
    two schemas of one database (or two test runs) must not wake each other's workers. The
    schema goes in as a short hash: a channel name is at most 63 bytes."""
    return func.concat(channel, ".", func.left(func.md5(func.current_schema()), SCHEMA_HASH))


class Listener:
    """Waits for a channel's notifications on a connection of its own (none on SQLite)."""

    def __init__(self, engine: Engine, channel: str) -> None:
        self.engine = engine
        self.channel = channel
        self._connection: psycopg.Connection[object] | None = None

    def wait(self, timeout: float, stop: threading.Event) -> bool:
        """Wait up to ``timeout`` seconds for a notification or ``stop``; True if notified."""
        deadline = time.monotonic() + timeout
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            connection = self._listening()
            if connection is None:
                stop.wait(left)
                return False
            try:
                # A notification sent while the worker was busy is already queued: no loss.
                if list(connection.notifies(timeout=min(left, STOP_CHECK_SECONDS), stop_after=1)):
                    return True
            except psycopg.Error:  # the database restarted, say: poll, and listen again later
                log.warning("lost the %s listener; polling until it is back", self.channel)
                self.close()
                stop.wait(left)
                return False
        return False

    def close(self) -> None:
        """Stop listening."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _listening(self) -> "psycopg.Connection[object] | None":
        if self.engine.dialect.name != "postgresql":
            return None
        if self._connection is None:
            try:
                arguments, options = self.engine.dialect.create_connect_args(self.engine.url)
                connection = psycopg.connect(*arguments, **options, autocommit=True)
                row = connection.execute(
                    "SELECT left(md5(current_schema()), %s)", (SCHEMA_HASH,)
                ).fetchone()
                schema = row[0] if row else ""
                connection.execute(f'LISTEN "{self.channel}.{schema}"')
            except psycopg.Error:
                log.warning("cannot listen on %s; polling", self.channel, exc_info=True)
                return None
            self._connection = connection
        return self._connection
