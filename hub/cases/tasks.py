"""Background work for cases: raise SLA near-breach and breach alerts, each once per case, and
escalate breaches (``hub.cases.escalation``).

Each alert is claimed before it is raised (``hub.store.leases``): the claim marks the case as
warned or breached, so notifiers running at once raise one alert per case between them.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_
from sqlmodel import Session, col, select

from hub.cases.escalation import escalate
from hub.cases.models import OPEN_STATUSES, Case, EventKind
from hub.cases.service import SYSTEM, notify, record
from hub.config import Settings
from hub.notifications.models import EventType
from hub.store.leases import claim
from hub.store.types import utcnow

CASE: Table = Case.__table__  # type: ignore[attr-defined]


def check_slas(session: Session, *, settings: Settings) -> int:
    """Record and announce open cases entering their SLA's last fifth, or past it."""
    now = utcnow()
    c = CASE.c
    is_open = c.status.in_([status.value for status in OPEN_STATUSES])
    breaches = _claim(
        session,
        and_(is_open, c.due_at < now, c.sla_breached_at.is_(None)),
        {"sla_breached_at": now, "sla_warned_at": now},
    )
    for case in breaches:
        record(session, case, EventKind.sla_breached, SYSTEM, after={"due_at": _iso(case.due_at)})
        escalate(session, settings, case)
    warnings = _claim(
        session,
        and_(is_open, c.sla_warn_at <= now, c.due_at >= now, c.sla_warned_at.is_(None)),
        {"sla_warned_at": now},
    )
    for case in warnings:
        record(session, case, EventKind.sla_warning, SYSTEM, after={"due_at": _iso(case.due_at)})
        notify(session, settings, case, EventType.case_sla_warning, to_users=[case.assignee_id])
    return len(breaches) + len(warnings)


def _claim(session: Session, where: ColumnElement[bool], values: dict[str, Any]) -> list[Case]:
    """Mark the cases ``where`` matches (those no other notifier marks first); the cases."""
    ids = [
        row.id for row in claim(session, CASE, where=where, values=values, returning=[CASE.c.id])
    ]
    if not ids:
        return []
    loaded = select(Case).where(col(Case.id).in_(ids)).order_by(col(Case.id))
    # Cases already in the session were read before the claim: load what it wrote.
    return list(session.exec(loaded.execution_options(populate_existing=True)).all())


def _iso(due_at: datetime | None) -> str | None:
    return due_at.isoformat() if due_at else None
