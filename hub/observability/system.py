"""What the admin System page shows: workers, queue depths, recent collector runs, the schema."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from hub.observability.models import WorkerHeartbeat
from hub.observability.queues import STALE_AFTER_BEATS, QueueDepths, queue_depths
from hub.observability.readiness import current_revision, script_head
from hub.sources.models import Source, SourceRun
from hub.store.types import utcnow

RUNS_SHOWN = 10


@dataclass(frozen=True)
class WorkerRow:
    """A worker as the page shows it."""

    hostname: str
    pid: int
    roles: list[str]
    started_at: datetime
    beat_at: datetime
    alive: bool
    last_batch_at: datetime | None
    last_batch_items: int | None
    last_batch_seconds: float | None


@dataclass(frozen=True)
class RunRow:
    """A recent collector run."""

    source: str
    kind: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    created: int
    error: str | None


@dataclass(frozen=True)
class SystemState:
    """Everything on the System page."""

    workers: list[WorkerRow]
    queues: QueueDepths
    runs: list[RunRow]
    backend: str
    revision: str | None
    head: str


def system_state(session: Session, *, beat_seconds: float) -> SystemState:
    """Read the page's state in one session."""
    bind = session.get_bind()
    return SystemState(
        workers=workers(session, beat_seconds=beat_seconds),
        queues=queue_depths(session),
        runs=recent_runs(session),
        backend=bind.dialect.name,
        revision=current_revision(bind.engine),
        head=script_head(),
    )


def workers(session: Session, *, beat_seconds: float) -> list[WorkerRow]:
    """Every worker with a heartbeat row, by host and start; stale ones marked."""
    fresh_since = utcnow() - timedelta(seconds=beat_seconds * STALE_AFTER_BEATS)
    rows = session.exec(
        select(WorkerHeartbeat).order_by(
            col(WorkerHeartbeat.hostname), col(WorkerHeartbeat.started_at)
        )
    ).all()
    return [
        WorkerRow(
            row.hostname,
            row.pid,
            row.roles.split(","),
            row.started_at,
            row.beat_at,
            row.beat_at >= fresh_since,
            row.last_batch_at,
            row.last_batch_items,
            row.last_batch_seconds,
        )
        for row in rows
    ]


def recent_runs(session: Session) -> list[RunRow]:
    """The newest collector runs of every source."""
    query = (
        select(SourceRun, Source.name, Source.kind)
        .join(Source, col(Source.id) == col(SourceRun.source_id))
        .order_by(col(SourceRun.started_at).desc(), col(SourceRun.id).desc())
        .limit(RUNS_SHOWN)
    )
    return [
        RunRow(name, kind, run.started_at, run.finished_at, run.status, run.created, run.error)
        for run, name, kind in session.exec(query).all()
    ]
