"""Background work for cases: raise SLA near-breach and breach alerts, each once per case."""

from sqlmodel import Session, col, select

from hub.cases.models import OPEN_STATUSES, Case, EventKind
from hub.cases.service import SYSTEM, notify, record
from hub.config import Settings
from hub.notifications.models import EventType
from hub.store.types import utcnow


def check_slas(session: Session, *, settings: Settings) -> int:
    """Record and announce open cases entering their SLA's last fifth, or past it."""
    now = utcnow()
    open_cases = col(Case.status).in_([status.value for status in OPEN_STATUSES])
    raised = 0
    breached = session.exec(
        select(Case).where(open_cases, col(Case.due_at) < now, col(Case.sla_breached_at).is_(None))
    ).all()
    for case in breached:
        case.sla_breached_at = case.sla_warned_at = now
        record(session, case, EventKind.sla_breached, SYSTEM, after={"due_at": _iso(case)})
        notify(session, settings, case, EventType.case_sla_breached, to_users=[case.assignee_id])
        raised += 1
    warned = session.exec(
        select(Case).where(open_cases, col(Case.sla_warn_at) <= now)
        .where(col(Case.due_at) >= now, col(Case.sla_warned_at).is_(None))
    ).all()  # fmt: skip
    for case in warned:
        case.sla_warned_at = now
        record(session, case, EventKind.sla_warning, SYSTEM, after={"due_at": _iso(case)})
        notify(session, settings, case, EventType.case_sla_warning, to_users=[case.assignee_id])
        raised += 1
    return raised


def _iso(case: Case) -> str | None:
    return case.due_at.isoformat() if case.due_at else None
