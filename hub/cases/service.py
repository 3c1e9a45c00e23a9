"""Cases: opening them from routing or by hand, and every action on them, each recorded as an
event.

Every change writes a CaseEvent (actor, time, before and after) in the same transaction, so
the trail is complete by construction. Who may act: leads and admins on any case, agents on
cases assigned to them or to one of their teams, viewers on none.
"""

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from hub.cases.deadlines import deadlines_for
from hub.cases.models import (
    OPEN_STATUSES,
    TRANSITIONS,
    Case,
    CaseEvent,
    EventKind,
    Status,
)
from hub.cases.sla import SlaClock
from hub.config import Settings
from hub.customers.models import Customer
from hub.errors import Conflict, InvalidInput, NotFound
from hub.feedback.models import Feedback
from hub.notifications.models import EventType
from hub.notifications.service import enqueue
from hub.routing.models import Priority, Strategy
from hub.store.types import utcnow
from hub.users.models import Role, Team, TeamMember, User

SYSTEM = "system"
MANUAL_SLA_HOURS = 48.0  # a case opened by hand gets the rules' default SLA window
# How a reply went: "email" (queued to the customer), "by_hand" (the agent sent it themselves)
# or "manual" (recorded as a draft to send by hand). The first two reached the customer.
REACHED_CUSTOMER = ("email", "by_hand")
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
    sla_clock: SlaClock = SlaClock.customer,
) -> Case:
    """A new case for a feedback item, assigned now if the rule says to whom; its SLA runs in
    the team's business hours from the customer's time (capped) or from now."""
    now = utcnow()
    if assignee_id is not None and not can_take_cases(session.get(User, assignee_id)):
        # The rule's person left or became a viewer: its team takes the case rather than
        # routing failing (and with it the worker's whole batch).
        assignee_id = None
    if assignee_id is None and team_id is not None:
        assignee_id = pick_assignee(session, team_id=team_id, strategy=strategy)
    sla = deadlines_for(session, settings=settings, feedback_id=feedback_id, team_id=team_id,
                        sla_hours=sla_hours, clock=sla_clock, now=now)  # fmt: skip
    case = Case(
        sla_warn_at=sla.warn_at,
        feedback_id=feedback_id,
        team_id=team_id,
        rule_id=rule_id,
        priority=priority.value,
        due_at=sla.due_at,
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


class CaseExists(Conflict):
    """The item already has an open case."""

    code = "case_exists"


def open_case_for_item(
    session: Session,
    *,
    settings: Settings,
    feedback_id: int,
    team_id: int | None,
    assignee_id: int | None,
    priority: Priority | None,
    note: str | None,
    actor: str,
) -> Case:
    """A case for any feedback item, opened by a person: the same trail as a routed case
    (created, assigned, notification), plus the note. An item has at most one case: if it is
    open this is a CaseExists naming it; a resolved or closed one is reopened instead, with a
    fresh SLA window, the team, assignee and priority given (the others kept), and a
    ``status_changed`` event. ``priority`` None: normal for a new case."""
    if session.get(Feedback, feedback_id) is None:
        raise NotFound(f"no feedback with id {feedback_id}")
    if team_id is not None and session.get(Team, team_id) is None:
        raise InvalidInput(f"no team with id {team_id}")
    if assignee_id is not None and not can_take_cases(session.get(User, assignee_id)):
        raise InvalidInput(f"user {assignee_id} cannot take cases (unknown, inactive or viewer)")
    existing = session.exec(select(Case).where(Case.feedback_id == feedback_id)).first()
    if existing is None:
        case = _open_new(
            session, settings, feedback_id, team_id, assignee_id, priority or Priority.normal, actor
        )
    elif Status(existing.status) in OPEN_STATUSES:
        raise _exists(existing)
    else:
        case = _reopen(session, settings, existing, team_id, assignee_id, actor)
        if priority is not None:
            set_priority(session, case_id=existing.id or 0, priority=priority, actor=actor)
    if note and note.strip():
        add_note(session, case_id=case.id or 0, body=note, actor=actor)
    return case


def _open_new(
    session: Session,
    settings: Settings,
    feedback_id: int,
    team_id: int | None,
    assignee_id: int | None,
    priority: Priority,
    actor: str,
) -> Case:
    """``open_case``; when a concurrent request opened one first (the UNIQUE feedback id
    refuses this insert), a 409 naming it. Nothing else was written yet, so rolling back is
    safe, and savepoints are avoided (pysqlite releases the outermost one as a commit)."""
    try:
        return open_case(
            session, settings=settings, feedback_id=feedback_id, team_id=team_id,
            assignee_id=assignee_id, strategy=Strategy.none, priority=priority,
            sla_hours=MANUAL_SLA_HOURS, rule_id=None, actor=actor,
        )  # fmt: skip
    except IntegrityError:
        session.rollback()
        existing = session.exec(select(Case).where(Case.feedback_id == feedback_id)).first()
        if existing is None:
            raise
        raise _exists(existing) from None


def _exists(case: Case) -> CaseExists:
    return CaseExists(
        f"feedback {case.feedback_id} already has an open case: #{case.id}",
        details={"case_id": case.id, "status": case.status},
    )


def _reopen(
    session: Session,
    settings: Settings,
    case: Case,
    team_id: int | None,
    assignee_id: int | None,
    actor: str,
) -> Case:
    """A resolved or closed case back in the queue, its SLA window starting now (in the
    business hours of the team it goes to)."""
    sla = deadlines_for(
        session, settings=settings, feedback_id=case.feedback_id,
        team_id=team_id if team_id is not None else case.team_id,
        sla_hours=MANUAL_SLA_HOURS, clock=SlaClock.routing, now=utcnow(),
    )  # fmt: skip
    before = {"status": case.status, "due_at": _iso(case.due_at)}
    case.status = Status.new.value
    case.resolved_at = case.closed_at = case.sla_warned_at = case.sla_breached_at = None
    case.due_at, case.sla_warn_at = sla.due_at, sla.warn_at
    after = {"status": case.status, "due_at": _iso(case.due_at)}
    record(session, case, EventKind.status_changed, actor, before=before, after=after,
           body="reopened: a case was asked for this item again")  # fmt: skip
    kept = case.assignee_id if can_take_cases(session.get(User, case.assignee_id or 0)) else None
    assign(
        session, settings=settings, case_id=case.id or 0,
        assignee_id=assignee_id if assignee_id is not None else kept,
        team_id=team_id if team_id is not None else case.team_id, actor=actor,
    )  # fmt: skip
    if case.assignee_id is not None and case.status == Status.new.value:
        _set_assignee(session, case, case.assignee_id, actor)  # the kept assignee takes it again
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
    settings: Settings,
) -> Case:
    """Move a case along its lifecycle (reopening included); illegal moves are refused.
    Closing sends the customer's follow-up survey (hub.loop) when follow-ups are on."""
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
    sent_by_hand: bool = False,
) -> CaseEvent:
    """Answer the customer: emailed when they have an address and SMTP is set up, otherwise
    recorded. An emailed reply, or one the agent says they sent by hand, reaches the customer:
    the first such reply is the case's first response, and the case waits on the customer
    (where its status allows). A reply merely recorded as a draft does neither."""
    case = get_case(session, case_id=case_id)
    feedback = session.get(Feedback, case.feedback_id)
    customer = (
        session.get(Customer, feedback.customer_id) if feedback and feedback.customer_id else None
    )
    subject = subject or "About your feedback"
    delivery = "by_hand" if sent_by_hand else "manual"
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
    sent = delivery in REACHED_CUSTOMER
    if sent and case.first_response_at is None:
        case.first_response_at = utcnow()
    after = {
        "delivery": delivery,
        "sent": sent,
        "to": customer.email if customer else None,
        "subject": subject,
    }
    event = record(session, case, EventKind.replied_to_customer, actor, after=after, body=body)
    if sent and Status.waiting_on_customer in TRANSITIONS[Status(case.status)]:
        transition(
            session, case_id=case_id, status=Status.waiting_on_customer, resolution=None,
            actor=actor, settings=settings,
        )  # fmt: skip
    return event


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
