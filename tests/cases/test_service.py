"""Cases on both backends: opened by routing, assigned, moved along their lifecycle, noted and
answered, every change on the trail. The JSON API is in ``test_api.py``; it reuses these helpers."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest
from sqlmodel import col, select

from hub.cases.models import Case, CaseEvent, Status
from hub.cases.service import add_note, assign, reply_to_customer, transition
from hub.config import Settings
from hub.errors import InvalidInput
from hub.feedback.service import ingest
from hub.notifications.models import OutboxMessage
from hub.routing.models import RuleIn
from hub.routing.service import create_rule, route_feedback
from hub.store.engine import session_scope
from hub.store.types import utcnow
from hub.users.models import Role, Team, TeamMember, User
from tests.conftest import Database
from tests.factories import item

SETTINGS = Settings()  # no notification channel configured
MAILING = Settings(smtp_host="smtp.example.test")  # emails are queued (nothing is sent here)
ACTOR = "user:1"


@dataclass(frozen=True)
class Member:
    """A person to put in a team."""

    role: Role = Role.agent
    active: bool = True


def person(db: Database, role: Role = Role.agent, *, active: bool = True, name: str = "") -> int:
    """A user who never signs in (no password hashing: these tests are about cases)."""
    with session_scope(db.engine) as session:
        count = len(session.exec(select(User.id)).all())
        name = name or f"{role.value} {count + 1}"
        user = User(email=f"p{count + 1}@staff.example", name=name, password_hash="-",
                    role=role.value, active=active)  # fmt: skip
        session.add(user)
        session.flush()
        assert user.id is not None
        return user.id


def team_of(db: Database, name: str, *members: Member) -> tuple[int, list[int]]:
    """A team with these members, created in order (so ids ascend); returns both ids."""
    ids = [person(db, m.role, active=m.active) for m in members]
    with session_scope(db.engine) as session:
        team = Team(name=name)
        session.add(team)
        session.flush()
        assert team.id is not None
        session.add_all(TeamMember(team_id=team.id, user_id=user_id) for user_id in ids)
        return team.id, ids


def add_rule(db: Database, **fields: Any) -> int:
    """A routing rule (tried after the existing ones)."""
    with session_scope(db.engine) as session:
        return create_rule(session, data=RuleIn.model_validate({"name": "r", **fields})).id


def store(db: Database, *items: dict[str, Any]) -> list[int]:
    """Ingest items; their feedback ids."""
    with session_scope(db.engine) as session:
        return [r.id for r in ingest(session, raw_items=list(items)).results]  # type: ignore[misc]


def open_cases(db: Database, *items: dict[str, Any], settings: Settings = SETTINGS) -> list[int]:
    """Ingest and route items (default: one item); the ids of the cases opened."""
    with session_scope(db.engine) as session:
        ids = [r.id for r in ingest(session, raw_items=list(items or [item()])).results]
        return route_feedback(session, settings=settings, feedback_ids=ids)  # type: ignore[arg-type]


def a_case(db: Database, **item_fields: Any) -> tuple[int, int]:
    """A new, unassigned case in a team's queue; returns (case id, team id)."""
    team, _ = team_of(db, f"Team {len(load_all(db, Team)) + 1}")
    add_rule(db, team_id=team)
    [case_id] = open_cases(db, item(**item_fields))
    return case_id, team


def act(db: Database, action: Callable[..., Any], **arguments: Any) -> Any:
    """Run a service function in its own transaction, as a request would."""
    with session_scope(db.engine) as session:
        return action(session, **arguments)


def move(db: Database, case_id: int, status: Status, resolution: str | None = None) -> Case:
    """Move a case along its lifecycle, as a person would."""
    case: Case = act(
        db, transition, case_id=case_id, status=status, resolution=resolution, actor=ACTOR,
        settings=SETTINGS,
    )  # fmt: skip
    return case


def force_status(db: Database, case_id: int, status: Status) -> None:
    """Put a case in ``status`` directly (test set-up, not a transition)."""
    with session_scope(db.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.status = status.value
        session.add(case)


def load(db: Database, case_id: int) -> Case:
    with session_scope(db.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


def load_all(db: Database, table: type[Any]) -> list[Any]:
    with session_scope(db.engine) as session:
        return list(session.exec(select(table).order_by(col(table.id))).all())


def trail(db: Database, case_id: int) -> list[CaseEvent]:
    with session_scope(db.engine) as session:
        query = select(CaseEvent).where(CaseEvent.case_id == case_id)
        return list(session.exec(query.order_by(col(CaseEvent.id))).all())


def hours(start: datetime | None, end: datetime | None) -> float:
    assert start is not None and end is not None
    return (end - start).total_seconds() / 3600


# Opening cases by routing


def test_routing_opens_a_case_due_after_the_rules_sla_hours(db: Database) -> None:
    team, _ = team_of(db, "Support", Member())
    rule = add_rule(db, team_id=team, priority="high", sla_hours=8, sla_clock="routing")
    [case_id] = open_cases(db)
    case = load(db, case_id)
    assert (case.status, case.team_id, case.assignee_id) == ("new", team, None)
    assert (case.priority, case.rule_id) == ("high", rule)
    assert hours(case.created_at, case.due_at) == pytest.approx(8)
    assert hours(case.created_at, case.sla_warn_at) == pytest.approx(8 * 0.8)  # last fifth
    assert case.first_response_at is case.resolved_at is case.closed_at is None
    [created] = trail(db, case_id)
    assert (created.kind, created.actor, created.before) == ("created", f"rule:{rule}", None)
    assert created.after == {"team_id": team, "priority": "high", "due_at": case.due_at.isoformat()}  # type: ignore[union-attr]
    assert case.created_at <= created.at == case.updated_at


def test_a_rule_for_a_person_assigns_the_case_and_tells_them(db: Database) -> None:
    ana = person(db, name="Ana")
    rule = add_rule(db, assignee_id=ana, sla_hours=4)
    [case_id] = open_cases(db, settings=MAILING)
    case = load(db, case_id)
    assert (case.status, case.assignee_id, case.team_id) == ("assigned", ana, None)
    created, assigned = trail(db, case_id)
    assert created.kind == "created"
    assert (assigned.kind, assigned.actor) == ("assigned", f"rule:{rule}")
    assert assigned.before == {"assignee_id": None, "status": "new"}
    assert assigned.after == {"assignee_id": ana, "status": "assigned"}
    [email] = load_all(db, OutboxMessage)
    assert (email.channel, email.destination, email.event_type, email.case_id) == (
        "email", "p1@staff.example", "case.created", case_id,
    )  # fmt: skip
    assert email.subject == f"New normal case #{case_id}"


def test_round_robin_takes_turns_and_skips_inactive_people_and_viewers(db: Database) -> None:
    team, [ana, _gone, _viewer, bo] = team_of(
        db, "Support", Member(), Member(active=False), Member(Role.viewer), Member()
    )
    add_rule(db, team_id=team, strategy="round_robin")
    opened = open_cases(db, *(item(text=f"item {n}") for n in range(3)))  # one batch
    opened += open_cases(db, item(text="later"))  # and another transaction
    assert [load(db, case_id).assignee_id for case_id in opened] == [ana, bo, ana, bo]


def test_least_loaded_counts_only_open_cases(db: Database) -> None:
    team, [ana, bo, _gone, _viewer] = team_of(
        db, "Support", Member(), Member(), Member(active=False), Member(Role.viewer)
    )
    add_rule(db, team_id=team, strategy="least_loaded")
    first = open_cases(db, *(item(text=f"item {n}") for n in range(4)))
    assert [load(db, case_id).assignee_id for case_id in first] == [ana, bo, ana, bo]
    move(db, first[1], Status.resolved)
    move(db, first[3], Status.closed)  # bo now has no open case, ana two
    later = open_cases(db, item(text="x"), item(text="y"), item(text="z"))
    assert [load(db, case_id).assignee_id for case_id in later] == [bo, bo, ana]


def test_a_team_with_nobody_to_take_it_keeps_the_case_in_its_queue(db: Database) -> None:
    team, _ = team_of(db, "Support", Member(active=False), Member(Role.viewer))
    add_rule(db, team_id=team, strategy="round_robin")
    [case_id] = open_cases(db)
    case = load(db, case_id)
    assert (case.status, case.team_id, case.assignee_id) == ("new", team, None)


@pytest.mark.parametrize("who", ["inactive", "viewer"])
def test_a_rule_whose_person_cannot_take_cases_falls_back_to_its_team(
    db: Database, who: str
) -> None:
    team, [bo] = team_of(db, "Support", Member())
    gone = person(db, Role.viewer) if who == "viewer" else person(db, active=False)
    add_rule(db, assignee_id=gone, team_id=team, strategy="round_robin")
    [case_id] = open_cases(db)  # routing must not fail: it runs inside the NLP worker's batch
    case = load(db, case_id)
    assert (case.status, case.team_id, case.assignee_id) == ("assigned", team, bo)


# Assigning


def test_assigning_records_before_and_after_and_tells_the_new_assignee(db: Database) -> None:
    case_id, team = a_case(db)
    ana = person(db, name="Ana")
    act(db, assign, settings=MAILING, case_id=case_id, assignee_id=ana, team_id=team, actor=ACTOR)
    case = load(db, case_id)
    assert (case.status, case.assignee_id, case.team_id) == ("assigned", ana, team)
    event = trail(db, case_id)[-1]
    assert (event.kind, event.actor) == ("assigned", ACTOR)
    assert (event.before, event.after) == (
        {"assignee_id": None, "status": "new"}, {"assignee_id": ana, "status": "assigned"},
    )  # fmt: skip
    assert event.at == case.updated_at
    [email] = load_all(db, OutboxMessage)
    assert (email.event_type, email.destination) == ("case.assigned", "p1@staff.example")
    assert email.subject == f"Case #{case_id} is yours"


def test_moving_a_case_to_another_team_is_recorded(db: Database) -> None:
    case_id, support = a_case(db)
    billing, _ = team_of(db, "Billing")
    act(db, assign, settings=SETTINGS, case_id=case_id, assignee_id=None, team_id=billing,
        actor=ACTOR)  # fmt: skip
    assert load(db, case_id).team_id == billing
    event = trail(db, case_id)[-1]
    assert (event.kind, event.before, event.after) == (
        "assigned", {"team_id": support}, {"team_id": billing},
    )  # fmt: skip


@pytest.mark.parametrize("who", ["viewer", "inactive", "unknown"])
def test_only_active_people_who_are_not_viewers_take_cases(db: Database, who: str) -> None:
    case_id, team = a_case(db)
    assignee = {
        "viewer": lambda: person(db, Role.viewer),
        "inactive": lambda: person(db, active=False),
        "unknown": lambda: 9999,
    }[who]()
    with pytest.raises(InvalidInput, match=f"user {assignee} cannot take cases"):
        act(db, assign, settings=SETTINGS, case_id=case_id, assignee_id=assignee, team_id=team,
            actor=ACTOR)  # fmt: skip
    assert load(db, case_id).assignee_id is None
    assert [event.kind for event in trail(db, case_id)] == ["created"]


def test_assigning_to_an_unknown_team_is_refused(db: Database) -> None:
    case_id, team = a_case(db)
    with pytest.raises(InvalidInput, match="no team with id 9999"):
        act(db, assign, settings=SETTINGS, case_id=case_id, assignee_id=None, team_id=9999,
            actor=ACTOR)  # fmt: skip
    assert load(db, case_id).team_id == team


def test_taking_an_assigned_case_away_puts_it_back_in_the_queue(db: Database) -> None:
    case_id, team = a_case(db)
    ana = person(db)
    act(db, assign, settings=SETTINGS, case_id=case_id, assignee_id=ana, team_id=team, actor=ACTOR)
    act(db, assign, settings=SETTINGS, case_id=case_id, assignee_id=None, team_id=team, actor=ACTOR)
    case = load(db, case_id)
    assert (case.status, case.assignee_id) == ("new", None)  # "assigned" to nobody would lie
    event = trail(db, case_id)[-1]
    assert (event.kind, event.before, event.after) == (
        "assigned",
        {"assignee_id": ana, "status": "assigned"},
        {"assignee_id": None, "status": "new"},
    )


# The lifecycle


def test_the_whole_lifecycle_stamps_its_times_and_reopening_clears_them(db: Database) -> None:
    case_id, team = a_case(db)
    act(db, assign, settings=SETTINGS, case_id=case_id, assignee_id=person(db), team_id=team,
        actor=ACTOR)  # fmt: skip
    for status in (Status.in_progress, Status.waiting_on_customer):
        case = move(db, case_id, status)
        assert case.status == status.value and case.resolved_at is case.closed_at is None
    started = utcnow()
    resolved = move(db, case_id, Status.resolved, resolution="Refunded the order")
    assert resolved.resolved_at is not None and started <= resolved.resolved_at <= utcnow()
    assert (resolved.resolution, resolved.closed_at) == ("Refunded the order", None)
    closed = move(db, case_id, Status.closed)
    assert closed.closed_at is not None and closed.closed_at >= resolved.resolved_at
    assert (closed.resolved_at, closed.resolution) == (resolved.resolved_at, "Refunded the order")
    reopened = move(db, case_id, Status.assigned)
    assert (reopened.status, reopened.resolved_at, reopened.closed_at) == ("assigned", None, None)
    moves = [(e.before, e.after, e.actor) for e in trail(db, case_id) if e.kind == "status_changed"]
    path = ["assigned", "in_progress", "waiting_on_customer", "resolved", "closed", "assigned"]
    assert moves == [({"status": old}, {"status": new}, ACTOR) for old, new in pairwise(path)]
    assert load(db, case_id).first_response_at is None  # only a reply to the customer is one


def test_closing_a_new_case_resolves_it_at_the_same_time(db: Database) -> None:
    case_id, _ = a_case(db)
    closed = move(db, case_id, Status.closed, resolution="Duplicate of #1")
    assert closed.closed_at is not None and closed.resolved_at == closed.closed_at
    assert closed.resolution == "Duplicate of #1"
    assert trail(db, case_id)[-1].body == "Duplicate of #1"


def test_a_case_without_assignee_reopens_as_new(db: Database) -> None:
    case_id, _ = a_case(db)
    move(db, case_id, Status.resolved)
    with pytest.raises(InvalidInput, match="assign the case to someone first"):
        move(db, case_id, Status.assigned)
    reopened = move(db, case_id, Status.new)
    assert (reopened.status, reopened.resolved_at) == ("new", None)


# Each pair is a move the lifecycle forbids (new → … → closed; reopen to assigned or new).
FORBIDDEN = [
    (Status.new, Status.waiting_on_customer),
    (Status.in_progress, Status.new),
    (Status.waiting_on_customer, Status.new),
    (Status.waiting_on_customer, Status.assigned),
    (Status.resolved, Status.in_progress),
    (Status.resolved, Status.waiting_on_customer),
    (Status.closed, Status.in_progress),
    (Status.closed, Status.waiting_on_customer),
    (Status.closed, Status.resolved),
]


@pytest.mark.parametrize(("current", "wanted"), FORBIDDEN, ids=lambda s: s.value)
def test_a_forbidden_move_is_refused_and_changes_nothing(
    db: Database, current: Status, wanted: Status
) -> None:
    case_id, _ = a_case(db)
    force_status(db, case_id, current)
    refusal = f"a {current.value} case can move to .*, not {wanted.value}"
    with pytest.raises(InvalidInput, match=refusal) as refused:
        move(db, case_id, wanted)
    assert refused.value.details["status"] == current.value
    assert refused.value.details["requested"] == wanted.value
    assert wanted.value not in refused.value.details["allowed"]
    assert load(db, case_id).status == current.value
    assert [event.kind for event in trail(db, case_id)] == ["created"]


def test_moving_to_the_current_status_changes_nothing(db: Database) -> None:
    case_id, _ = a_case(db)
    move(db, case_id, Status.in_progress)
    move(db, case_id, Status.in_progress)
    assert [event.kind for event in trail(db, case_id)] == ["created", "status_changed"]


# Notes and replies


def test_a_note_goes_on_the_trail_with_its_author_and_time(db: Database) -> None:
    case_id, _ = a_case(db)
    before = utcnow()
    act(db, add_note, case_id=case_id, body="  Called them, will ship a new one.  ", actor=ACTOR)
    note = trail(db, case_id)[-1]
    assert (note.kind, note.actor) == ("commented", ACTOR)
    assert note.body == "Called them, will ship a new one."
    assert before <= note.at <= utcnow() and load(db, case_id).updated_at == note.at
    assert load(db, case_id).first_response_at is None  # an internal note is no response


def test_a_reply_is_emailed_when_the_customer_has_an_address_and_smtp_is_set(
    db: Database,
) -> None:
    case_id, _ = a_case(db)
    started = utcnow()
    act(db, reply_to_customer, settings=MAILING, case_id=case_id, body="Your refund is on its way.",
        subject="Your order", actor=ACTOR)  # fmt: skip
    [email] = load_all(db, OutboxMessage)
    assert (email.channel, email.destination, email.subject) == (
        "email", "ana@example.com", "Your order",
    )  # fmt: skip
    assert (email.event_type, email.case_id, email.body) == (
        "case.replied_to_customer", case_id, {"text": "Your refund is on its way."},
    )  # fmt: skip
    reply = trail(db, case_id)[-1]
    first = load(db, case_id).first_response_at
    assert first is not None and started <= first <= reply.at
    assert (reply.kind, reply.actor, reply.body) == (
        "replied_to_customer", ACTOR, "Your refund is on its way.",
    )  # fmt: skip
    assert reply.after == {
        "delivery": "email", "sent": True, "to": "ana@example.com", "subject": "Your order",
    }  # fmt: skip
    act(db, reply_to_customer, settings=MAILING, case_id=case_id, body="Any news?", subject=None,
        actor=ACTOR)  # fmt: skip
    assert load(db, case_id).first_response_at == first  # the first reply stays the first
    assert load_all(db, OutboxMessage)[-1].subject == "About your feedback"


@pytest.mark.parametrize(
    ("settings", "customer", "to"),
    [
        (SETTINGS, {"ref": "cus_1", "email": "ana@example.com"}, "ana@example.com"),
        (MAILING, {"ref": "cus_2"}, None),
        (MAILING, ..., None),
    ],
    ids=["no-smtp", "no-address", "no-customer"],
)
def test_otherwise_a_reply_is_recorded_as_a_draft_that_is_no_response(
    db: Database, settings: Settings, customer: Any, to: str | None
) -> None:
    case_id, _ = a_case(db, customer=customer)
    started = utcnow()
    act(db, reply_to_customer, settings=settings, case_id=case_id, body="Sorry!", subject=None,
        actor=ACTOR)  # fmt: skip
    assert load_all(db, OutboxMessage) == []
    reply = trail(db, case_id)[-1]
    assert reply.after == {
        "delivery": "manual", "sent": False, "to": to, "subject": "About your feedback",
    }  # fmt: skip
    assert started <= reply.at
    assert load(db, case_id).first_response_at is None  # a draft reached nobody
