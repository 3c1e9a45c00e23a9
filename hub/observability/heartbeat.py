"""The worker heartbeat: a row per running worker, refreshed every ``HUB_WORKER_HEARTBEAT_SECONDS``.

The System page shows the rows; ``feedback-hub worker-health`` (the worker container's
healthcheck) checks that this host's worker beat recently. A worker removes its row on a clean
exit; rows of workers that died without one are pruned after a day.
"""

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, update
from sqlmodel import Session, col, select

from hub.observability.models import WorkerHeartbeat
from hub.store.engine import session_scope
from hub.store.types import utcnow

log = logging.getLogger(__name__)
DEFAULT_ROLES = "nlp,collect,notify"
PRUNE_AFTER = timedelta(days=1)


@dataclass
class Heartbeat:
    """One worker's heartbeat; ``record_batch`` notes its latest enrichment batch."""

    engine: Engine
    owner: str
    roles: str = DEFAULT_ROLES
    hostname: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    started_at: datetime = field(default_factory=utcnow)
    _batch: tuple[datetime, int, float] | None = None

    def record_batch(self, items: int, seconds: float) -> None:
        """Remember the latest batch; the next beat writes it."""
        self._batch = (utcnow(), items, seconds)

    def beat(self) -> None:
        """Write this worker's row (insert or refresh) and prune long-dead workers' rows."""
        now = utcnow()
        values: dict[str, Any] = {"hostname": self.hostname, "pid": self.pid, "roles": self.roles,
                  "started_at": self.started_at, "beat_at": now}  # fmt: skip
        if self._batch is not None:
            at, items, seconds = self._batch
            values |= {"last_batch_at": at, "last_batch_items": items,
                       "last_batch_seconds": seconds}  # fmt: skip
        with session_scope(self.engine) as session:
            # Only this thread writes this owner's row, so update-else-insert cannot race.
            updated = session.exec(
                update(WorkerHeartbeat)
                .where(col(WorkerHeartbeat.owner) == self.owner)
                .values(values)
            )
            if updated.rowcount == 0:
                session.add(WorkerHeartbeat(owner=self.owner, **values))
            session.exec(
                delete(WorkerHeartbeat).where(col(WorkerHeartbeat.beat_at) < now - PRUNE_AFTER)
            )

    def remove(self) -> None:
        """Delete this worker's row (a clean exit)."""
        with session_scope(self.engine) as session:
            session.exec(delete(WorkerHeartbeat).where(col(WorkerHeartbeat.owner) == self.owner))


def start_heartbeat_thread(
    heartbeat: Heartbeat, *, every: float, stop: threading.Event
) -> threading.Thread:
    """Beat now and every ``every`` seconds until ``stop`` is set, then remove the row."""
    thread = threading.Thread(
        target=_beat_until, args=(heartbeat, every, stop), name="heartbeat", daemon=True
    )
    thread.start()
    return thread


def _beat_until(heartbeat: Heartbeat, every: float, stop: threading.Event) -> None:
    while True:
        try:
            heartbeat.beat()
        except Exception:  # the database restarting, say: the next beat tries again
            log.exception("heartbeat: could not write")
        if stop.wait(every):
            break
    try:
        heartbeat.remove()
    except Exception:
        log.exception("heartbeat: could not remove this worker's row")


def freshest_beat(session: Session, *, hostname: str) -> datetime | None:
    """The newest heartbeat of any worker on ``hostname``."""
    query = (
        select(WorkerHeartbeat.beat_at)
        .where(WorkerHeartbeat.hostname == hostname)
        .order_by(col(WorkerHeartbeat.beat_at).desc())
        .limit(1)
    )
    return session.exec(query).first()
