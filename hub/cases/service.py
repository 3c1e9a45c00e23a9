"""Cases: opening them from routing, and every action on them, each recorded as an event.

Every change writes a CaseEvent (actor, time, before and after) in the same transaction, so
the trail is complete by construction. Who may act: leads and admins on any case, agents on
cases assigned to them or to one of their teams, viewers on none.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from hub.cases.models import (
    OPEN_STATUSES,
    TRANSITIONS,
    Case,
    CaseEvent,
    EventKind,
    Status,
)
from hub.config import Settings
from hub.customers.models import Customer
from hub.errors import InvalidInput, NotFound
from hub.feedback.models import Feedback
from hub.notifications.models import EventType
from hub.notifications.service import enqueue
from hub.routing.models import Priority, Strategy
from hub.store.types import utcnow
from hub.users.models import Role, Team, TeamMember, User

SYSTEM = "system"
NEAR_BREACH_SHARE = 0.2  # the last fifth of the SLA window counts as near breach
NOTICE_TITLES = {
    EventType.case_created: "New {priority} case #{id}",
    EventType.case_assigned: "Case #{id} is yours",
    EventType.case_sla_warning: "Case #{id} is near its SLA",
    EventType.case_sla_breached: "Case #{id} breached its SLA",
}


def record(
    session: Session,
    case: Case,
    kind: EventKind,
    actor: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    body: str | None = None,
) -> CaseEvent:
    """Append an event to the case's trail (and touch the case)."""
    assert case.id is not None
    event = CaseEvent(
        case_id=case.id, kind=kind.value, actor=actor, before=before, after=after, body=body
    )
    case.updated_at = event.at
    session.add(case)
    session.add(event)
    return event


def open_case(
    session: Session,
    *,
    settings: Settings,
    feedback_id: int,
    team_id: int | None,
    assignee_id: int | None,
    strategy: Strategy,
    priority: Priority,
    sla_hours: float,
    rule_id: int | None,
    actor: str,
) -> Case:
    """A new case for a feedback item, assigned now if the rule says to whom."""
    now = utcnow()
    if assignee_id is not None and not can_take_cases(session.get(User, assignee_id)):
        # The rule's person left or became a viewer: its team takes the case rather than
        # routing failing (and with it the worker's whole batch).
        assignee_id = None
    if assignee_id is None and team_id is not None:
        assignee_id = pick_assignee(session, team_id=team_id, strategy=strategy)
    window = timedelta(hours=sla_hours)
    case = Case(
        sla_warn_at=now + window * (1 - NEAR_BREACH_SHARE),
        feedback_id=feedback_id,
        team_id=team_id,
        rule_id=rule_id,
        priority=priority.value,
        due_at=now + window,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    record(
        session,
        case,
        EventKind.created,
        actor,
        after={"team_id": team_id, "priority": priority.value, "due_at": _iso(case.due_at)},
    )
    if assignee_id is not None:
        _set_assignee(session, case, assignee_id, actor)
    notify(session, settings, case, EventType.case_created, to_users=[case.assignee_id])
    return case


def pick_assignee(session: Session, *, team_id: int, strategy: Strategy) -> int | None:
    """The team member a rule's strategy picks: round robin, least loaded, or nobody."""
    if strategy == Strategy.none:
        return None
    members = session.exec(
        select(User.id)
        .join(TeamMember, col(TeamMember.user_id) == col(User.id))
        .where(TeamMember.team_id == team_id, col(User.active).is_(True))
        .where(col(User.role) != Role.viewer.value)
        .order_by(col(User.id))
    ).all()
    if not members:
        return None
    if strategy == Strategy.least_loaded:
        open_counts = dict(
            session.exec(
                select(Case.assignee_id, func.count())
                .where(col(Case.assignee_id).in_(members))
                .where(col(Case.status).in_(OPEN_STATUSES))
                .group_by(col(Case.assignee_id))
            ).all()
        )
        return min(members, key=lambda member: (open_counts.get(member, 0), member))
    last_given = dict(
        session.exec(
            select(Case.assignee_id, func.max(Case.created_at))
            .where(Case.team_id == team_id, col(Case.assignee_id).in_(members))
            .group_by(col(Case.assignee_id))
        ).all()
    )
    never = datetime.min.replace(tzinfo=utcnow().tzinfo)
    return min(members, key=lambda member: (last_given.get(member) or never, member))


def can_take_cases(person: User | None) -> bool:
    """Whether a person may be given cases: known, active and not a viewer."""
    return person is not None and person.active and person.role != Role.viewer.value


def get_case(session: Session, *, case_id: int) -> Case:
    """The case with this id."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case with id {case_id}")
    return case


def may_work(session: Session, user: User, case: Case) -> bool:
    """Whether ``user`` may act on ``case`` (see the module docstring)."""
    role = Role(user.role)
    if role.allows(Role.lead):
        return True
    if not role.allows(Role.agent):
        return False
    if case.assignee_id == user.id:
        return True
    return case.team_id is not None and case.team_id in team_ids(session, user_id=user.id or 0)


def team_ids(session: Session, *, user_id: int) -> set[int]:
    """The teams a user belongs to."""
    rows = session.exec(select(TeamMember.team_id).where(TeamMember.user_id == user_id)).all()
    return set(rows)


def assign(
    session: Session,
    *,
    settings: Settings,
    case_id: int,
    assignee_id: int | None,
    team_id: int | None,
    actor: str,
) -> Case:
    """Give a case to a person (who must be active and not a viewer) and/or a team."""
    case = get_case(session, case_id=case_id)
    if team_id is not None and session.get(Team, team_id) is None:
        raise InvalidInput(f"no team with id {team_id}")
    if team_id != case.team_id:
        record(
            session,
            case,
            EventKind.assigned,
            actor,
            before={"team_id": case.team_id},
            after={"team_id": team_id},
        )
        case.team_id = team_id
    if assignee_id != case.assignee_id:
        if assignee_id is None:
            _unassign(session, case, actor)
        else:
            _set_assignee(session, case, assignee_id, actor)
            notify(session, settings, case, EventType.case_assigned, to_users=[assignee_id])
    session.add(case)
    return case


def _unassign(session: Session, case: Case, actor: str) -> None:
    before = {"assignee_id": case.assignee_id, "status": case.status}
    case.assignee_id = None
    if case.status == Status.assigned.value:  # "assigned" to nobody: back to the queue
        case.status = Status.new.value
    after = {"assignee_id": None, "status": case.status}
    record(session, case, EventKind.assigned, actor, before=before, after=after)


def _set_assignee(session: Session, case: Case, assignee_id: int, actor: str) -> None:
    if not can_take_cases(session.get(User, assignee_id)):
        raise InvalidInput(f"user {assignee_id} cannot take cases (unknown, inactive or viewer)")
    before = {"assignee_id": case.assignee_id, "status": case.status}
    case.assignee_id = assignee_id
    if case.status == Status.new.value:
        case.status = Status.assigned.value
    record(
        session,
        case,
        EventKind.assigned,
        actor,
        before=before,
        after={"assignee_id": assignee_id, "status": case.status},
    )


def transition(
    session: Session,
    *,
    case_id: int,
    status: Status,
    resolution: str | None,
    actor: str,
    settings: Settings | None = None,
) -> Case:
    """Move a case along its lifecycle (reopening included); illegal moves are refused.
    With ``settings``, closing sends the customer's follow-up survey (hub.loop)."""
    case = get_case(session, case_id=case_id)
    current = Status(case.status)
    if status == current:
        return case
    if status not in TRANSITIONS[current]:
        allowed = sorted(s.value for s in TRANSITIONS[current])
        raise InvalidInput(
            f"a {current.value} case can move to {', '.join(allowed)}, not {status.value}",
            details={"status": current.value, "requested": status.value, "allowed": allowed},
        )
    if status == Status.assigned and case.assignee_id is None:
        raise InvalidInput("assign the case to someone first")
    now = utcnow()
    before = {"status": current.value}
    case.status = status.value
    if status == Status.resolved:
        case.resolved_at, case.resolution = now, resolution or case.resolution
    elif status == Status.closed:
        case.closed_at = now
        case.resolved_at = case.resolved_at or now
        case.resolution = resolution or case.resolution
    elif current in (Status.resolved, Status.closed):  # reopened
        case.resolved_at = case.closed_at = None
    record(
        session,
        case,
        EventKind.status_changed,
        actor,
        before=before,
        after={"status": status.value},
        body=resolution,
    )
    if status == Status.closed and settings is not None:
        from hub.loop.followup import send_followup  # here: hub.loop imports this module

        send_followup(session, settings=settings, case=case, actor=actor)
    return case


def set_priority(session: Session, *, case_id: int, priority: Priority, actor: str) -> Case:
    """Change how urgent a case is."""
    case = get_case(session, case_id=case_id)
    if priority.value != case.priority:
        record(
            session,
            case,
            EventKind.priority_changed,
            actor,
            before={"priority": case.priority},
            after={"priority": priority.value},
        )
        case.priority = priority.value
    return case


def add_note(session: Session, *, case_id: int, body: str, actor: str) -> CaseEvent:
    """An internal note on the case."""
    case = get_case(session, case_id=case_id)
    return record(session, case, EventKind.commented, actor, body=body.strip())


def reply_to_customer(
    session: Session,
    *,
    settings: Settings,
    case_id: int,
    body: str,
    subject: str | None,
    actor: str,
) -> CaseEvent:
    """Answer the customer: emailed when they have an address and SMTP is set up, otherwise
    recorded as a reply to send by hand. The first reply is the case's first response."""
    case = get_case(session, case_id=case_id)
    feedback = session.get(Feedback, case.feedback_id)
    customer = (
        session.get(Customer, feedback.customer_id) if feedback and feedback.customer_id else None
    )
    subject = subject or "About your feedback"
    delivery = "manual"
    if customer is not None and customer.email and settings.smtp_host:
        enqueue(
            session,
            settings=settings,
            event_type=EventType.case_replied_to_customer,
            case_id=case.id,
            subject=subject,
            text=body,
            data={},
            to_emails=[customer.email],
            broadcast=False,  # the customer's email only: the text is for them, not for Slack
        )
        delivery = "email"
    if case.first_response_at is None:
        case.first_response_at = utcnow()
    after = {"delivery": delivery, "to": customer.email if customer else None, "subject": subject}
    return record(session, case, EventKind.replied_to_customer, actor, after=after, body=body)


def notify(
    session: Session,
    settings: Settings,
    case: Case,
    event: EventType,
    *,
    to_users: list[int | None],
) -> None:
    """Tell people and systems about a case: the named users by email, and every configured
    Slack and webhook destination."""
    emails = [
        email for email in session.exec(
            select(User.email).where(col(User.id).in_([u for u in to_users if u is not None]))
            .where(col(User.active).is_(True))
        ).all()
    ]  # fmt: skip
    feedback = session.get(Feedback, case.feedback_id)
    said = (feedback.text or feedback.title or "") if feedback else ""
    title = NOTICE_TITLES[event].format(id=case.id, priority=case.priority)
    due = f"due {case.due_at:%Y-%m-%d %H:%M} UTC" if case.due_at else "no SLA"
    data = {"case_id": case.id, "status": case.status, "priority": case.priority,
            "team_id": case.team_id, "assignee_id": case.assignee_id,
            "due_at": _iso(case.due_at), "feedback_id": case.feedback_id}  # fmt: skip
    enqueue(session, settings=settings, event_type=event, case_id=case.id, subject=title,
            text=f"{title} ({due})\n\n“{said[:500]}”", data=data, to_emails=emails)  # fmt: skip


def sla_state(case: Case, *, now: datetime) -> str:
    """ok, near_breach or breached while open; met or missed once resolved; none without SLA."""
    if case.due_at is None:
        return "none"
    if case.resolved_at is not None:
        return "met" if case.resolved_at <= case.due_at else "missed"
    if now > case.due_at:
        return "breached"
    return "near_breach" if case.sla_warn_at is not None and now >= case.sla_warn_at else "ok"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
