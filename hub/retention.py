"""Retention: delete rows that have served their purpose, in batches, each kind after a
``HUB_RETAIN_…_DAYS`` setting (0 keeps them forever).

The ``notify`` worker role prunes every ``HUB_PRUNE_INTERVAL_HOURS``; ``feedback-hub prune``
prunes now (``--dry-run`` counts instead). Each batch is a transaction of its own, so a prune
never holds long locks, and several workers pruning at once only share the work.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, Table, and_, delete, func, select

from hub.auth.models import LoginAttempt, UserSession
from hub.config import Settings
from hub.notifications.models import OutboxMessage, OutboxStatus
from hub.routing.models import RoutingDecision
from hub.sources.models import SourceRun
from hub.store.types import utcnow

BATCH_SIZE = 1000


@dataclass(frozen=True)
class Rule:
    """One kind of row to prune: its table, the setting naming its age, and when it is old."""

    name: str
    table: Table
    setting: str
    older_than: Callable[[Table, datetime], ColumnElement[bool]]


RULES = (
    Rule(
        "sent outbox messages",
        OutboxMessage.__table__,  # type: ignore[attr-defined]
        "retain_sent_outbox_days",
        lambda t, cutoff: and_(t.c.status == OutboxStatus.sent.value, t.c.sent_at < cutoff),
    ),
    Rule(
        "login attempts",
        LoginAttempt.__table__,  # type: ignore[attr-defined]
        "retain_login_attempts_days",
        lambda t, cutoff: t.c.at < cutoff,
    ),
    Rule(
        "expired sessions",
        UserSession.__table__,  # type: ignore[attr-defined]
        "retain_expired_sessions_days",
        lambda t, cutoff: t.c.expires_at < cutoff,
    ),
    Rule(
        "source runs",
        SourceRun.__table__,  # type: ignore[attr-defined]
        "retain_source_runs_days",
        lambda t, cutoff: t.c.finished_at < cutoff,  # a running run (no end yet) is kept
    ),
    Rule(
        # Decisions that opened a case are the case's audit trail: kept with it.
        "routing decisions",
        RoutingDecision.__table__,  # type: ignore[attr-defined]
        "retain_routing_decisions_days",
        lambda t, cutoff: and_(t.c.case_id.is_(None), t.c.decided_at < cutoff),
    ),
)


def prune(
    engine: Engine,
    settings: Settings,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    now: datetime | None = None,
) -> dict[str, int]:
    """Delete (or with ``dry_run`` count) what each rule's setting says is old; counts by rule."""
    now = now or utcnow()
    counts = {}
    for rule in RULES:
        days: int = getattr(settings, rule.setting)
        if days == 0:
            counts[rule.name] = 0
            continue
        old = rule.older_than(rule.table, now - timedelta(days=days))
        counts[rule.name] = (
            _count(engine, rule.table, old)
            if dry_run
            else _delete(engine, rule.table, old, batch_size)
        )
    return counts


def _count(engine: Engine, table: Table, old: ColumnElement[bool]) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(table).where(old)).scalar_one()
        )


def _delete(engine: Engine, table: Table, old: ColumnElement[bool], batch_size: int) -> int:
    """Delete in batches of ``batch_size`` rows, one transaction each; how many were deleted."""
    batch = select(table.c.id).where(old).order_by(table.c.id).limit(batch_size)
    deleted = 0
    while True:
        with engine.begin() as connection:
            count = connection.execute(delete(table).where(table.c.id.in_(batch.scalar_subquery())))
        deleted += count.rowcount
        if count.rowcount < batch_size:
            return deleted
