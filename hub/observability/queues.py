"""Queue depths and collector runs read from the database when Prometheus scrapes.

The rows are the truth every process shares, so any API process answers the same. Each query
is a range of an index: ``ix_feedback_nlp_state``, ``ix_outbox_message_status_next``; source
runs are a small, pruned table.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from hub.feedback.models import Feedback, NlpState
from hub.notifications.models import OutboxMessage, OutboxStatus
from hub.observability.models import WorkerHeartbeat
from hub.sources.models import SourceRun
from hub.store.types import utcnow

log = logging.getLogger(__name__)
NLP_STATES = (NlpState.pending, NlpState.failed)
OUTBOX_STATES = (OutboxStatus.pending, OutboxStatus.failed)
RUNS_WINDOW = timedelta(hours=24)
STALE_AFTER_BEATS = 4  # a worker that missed this many beats in a row counts as stale


@dataclass(frozen=True)
class QueueDepths:
    """How much work waits or was given up on."""

    nlp: dict[str, int]
    outbox: dict[str, int]


def queue_depths(session: Session) -> QueueDepths:
    """NLP items pending and failed; outbox messages pending and failed."""
    nlp = {state.value: 0 for state in NLP_STATES}
    query = (
        select(Feedback.nlp_state, func.count())
        .where(col(Feedback.nlp_state).in_(NLP_STATES))
        .group_by(col(Feedback.nlp_state))
    )
    nlp.update(session.exec(query).all())
    outbox = {status.value: 0 for status in OUTBOX_STATES}
    query = (
        select(OutboxMessage.status, func.count())
        .where(col(OutboxMessage.status).in_(OUTBOX_STATES))
        .group_by(col(OutboxMessage.status))
    )
    outbox.update(session.exec(query).all())
    return QueueDepths(nlp=nlp, outbox=outbox)


def recent_runs_by_status(session: Session) -> dict[str, int]:
    """Collector runs started in the last 24 hours, by status (running, ok, failed)."""
    counts = dict.fromkeys(("running", "ok", "failed"), 0)
    query = (
        select(SourceRun.status, func.count())
        .where(SourceRun.started_at >= utcnow() - RUNS_WINDOW)
        .group_by(col(SourceRun.status))
    )
    counts.update(session.exec(query).all())
    return counts


def alive_workers(session: Session, *, beat_seconds: float) -> int:
    """Workers whose last heartbeat is fresher than ``STALE_AFTER_BEATS`` beats."""
    since = utcnow() - timedelta(seconds=beat_seconds * STALE_AFTER_BEATS)
    query = (
        select(func.count()).select_from(WorkerHeartbeat).where(WorkerHeartbeat.beat_at >= since)
    )
    return int(session.exec(query).one())


class DatabaseCollector(Collector):
    """Gauges read at scrape time; ``hub_database_up`` is 0 when the database did not answer."""

    def __init__(self, engine: Engine, *, beat_seconds: float) -> None:
        self.engine = engine
        self.beat_seconds = beat_seconds

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with Session(self.engine) as session:
                depths = queue_depths(session)
                runs = recent_runs_by_status(session)
                workers = alive_workers(session, beat_seconds=self.beat_seconds)
        except SQLAlchemyError as exc:  # a scrape must answer; the gauge says it is empty
            log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
            yield GaugeMetricFamily("hub_database_up", "Whether the database answered", value=0)
            return
        yield GaugeMetricFamily("hub_database_up", "Whether the database answered", value=1)
        yield _labelled("hub_nlp_queue_items", "Feedback items by NLP state", "state", depths.nlp)
        yield _labelled(
            "hub_outbox_messages", "Outbox messages by delivery status", "status", depths.outbox
        )
        yield _labelled(
            "hub_collector_runs_24h", "Collector runs started in the last 24 hours, by status",
            "status", runs,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "hub_workers_alive", "Workers with a fresh heartbeat", value=workers
        )


def _labelled(
    name: str, documentation: str, label: str, values: dict[str, int]
) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in values.items():
        gauge.add_metric([key], value)
    return gauge


def database_metrics(engine: Engine, *, beat_seconds: float) -> bytes:
    """The database gauges in the text format."""
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(engine, beat_seconds=beat_seconds))
    return generate_latest(registry)
