"""Reading cases: the triage queue (filters, sort, counts per status) and one case in full."""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case as sql_case
from sqlmodel import Session, col, func, select

from hub.cases.models import (
    OPEN_STATUSES,
    Case,
    CaseDetail,
    CaseEvent,
    CasePage,
    CasePublic,
    EventPublic,
    Status,
)
from hub.cases.service import get_case, sla_state, team_ids
from hub.errors import InvalidInput
from hub.feedback.models import Feedback
from hub.feedback.queries import FeedbackFilters, get_feedback, list_feedback
from hub.routing.models import Priority
from hub.sources.models import Source
from hub.store.paging import cursor_offset, offset_cursor
from hub.store.types import utcnow
from hub.topics.models import FeedbackTopic, Topic
from hub.users.models import Team, User

SORTS = ("due", "newest", "oldest", "priority")
SCOPES = ("mine", "team", "all")
PRIORITY_ORDER = {p.value: rank for rank, p in enumerate(reversed(list(Priority)))}


@dataclass(frozen=True)
class CaseFilters:
    """A queue: whose cases, and narrowed by status, priority, SLA, topic, source, sentiment,
    language; ``None`` or empty means any."""

    scope: str = "all"  # mine, team (my teams'), all
    statuses: tuple[Status, ...] = field(default=OPEN_STATUSES)
    priority: Priority | None = None
    sla: str | None = None  # ok, near_breach, breached
    topic: str | None = None
    source: str | None = None
    sentiment: str | None = None
    language: str | None = None
    sort: str = "due"


def list_cases(
    session: Session, *, filters: CaseFilters, viewer: User | None, cursor: str | None, limit: int
) -> CasePage:
    """One page of the queue, and how many cases each status holds under the same filters."""
    _check(filters, viewer)
    base = _filtered(session, select(Case), filters, viewer)
    counts = dict(
        session.exec(
            _filtered(session, select(Case.status, func.count()), filters, viewer, statuses=False)
            .group_by(col(Case.status))
        ).all()
    )  # fmt: skip
    offset = cursor_offset(cursor)
    rows = session.exec(_sorted(base, filters.sort).offset(offset).limit(limit + 1)).all()
    items = publics(session, list(rows[:limit]))
    more = len(rows) > limit
    next_cursor = offset_cursor(offset + limit) if more else None
    return CasePage(
        items=items, next_cursor=next_cursor,
        counts={status.value: counts.get(status.value, 0) for status in Status},
    )  # fmt: skip


def count_cases(session: Session, *, filters: CaseFilters, viewer: User | None) -> int:
    """How many cases the whole queue holds (every page of it)."""
    _check(filters, viewer)
    return int(
        session.exec(_filtered(session, select(func.count(col(Case.id))), filters, viewer)).one()
    )


def queue_ids(
    session: Session, *, filters: CaseFilters, viewer: User | None, limit: int
) -> list[int]:
    """The ids of the whole queue in its sort order (at most ``limit``), for exports."""
    _check(filters, viewer)
    query = _sorted(_filtered(session, select(Case.id), filters, viewer), filters.sort)
    return [case_id for case_id in session.exec(query.limit(limit)).all() if case_id is not None]


def _check(filters: CaseFilters, viewer: User | None) -> None:
    if filters.sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}")
    if filters.scope not in SCOPES:
        raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}")
    if filters.scope != "all" and viewer is None:  # else a key asking for "mine" gets all
        raise InvalidInput(f"scope {filters.scope} needs a signed-in person; keys see all")


def _filtered(
    session: Session, query: Any, f: CaseFilters, viewer: User | None, *, statuses: bool = True
) -> Any:
    if f.scope == "mine" and viewer is not None:
        query = query.where(Case.assignee_id == viewer.id)
    elif f.scope == "team" and viewer is not None:
        query = query.where(col(Case.team_id).in_(team_ids(session, user_id=viewer.id or 0)))
    if statuses and f.statuses:
        query = query.where(col(Case.status).in_([s.value for s in f.statuses]))
    if f.priority is not None:
        query = query.where(Case.priority == f.priority.value)
    if f.sla is not None:
        query = _sla_condition(query, f.sla)
    if f.source or f.sentiment or f.language or f.topic:
        query = query.join(Feedback, col(Feedback.id) == col(Case.feedback_id))
        query = _feedback_conditions(query, f)
    return query


def _feedback_conditions(query: Any, f: CaseFilters) -> Any:
    if f.source:
        query = query.join(Source, col(Source.id) == col(Feedback.source_id)).where(
            Source.name == f.source
        )
    if f.sentiment:
        query = query.where(Feedback.sentiment == f.sentiment)
    if f.language:
        query = query.where(Feedback.language == f.language)
    if f.topic:
        tagged = (
            select(FeedbackTopic.feedback_id)
            .join(Topic, col(Topic.id) == col(FeedbackTopic.topic_id))
            .where(Topic.key == f.topic)
        )
        query = query.where(col(Feedback.id).in_(tagged))
    return query


def _sla_condition(query: Any, state: str) -> Any:
    """SLA states of open cases as SQL (the same rule as ``sla_state``)."""
    now = utcnow()
    unresolved = query.where(col(Case.resolved_at).is_(None))
    if state == "breached":
        return unresolved.where(col(Case.due_at) < now)
    if state == "near_breach":
        return unresolved.where(col(Case.due_at) >= now, col(Case.sla_warn_at) <= now)
    if state == "ok":
        return unresolved.where(col(Case.due_at) >= now, col(Case.sla_warn_at) > now)
    raise InvalidInput("sla must be ok, near_breach or breached")


def _sorted(query: Any, sort: str) -> Any:
    if sort == "newest":
        return query.order_by(col(Case.created_at).desc(), col(Case.id).desc())
    if sort == "oldest":
        return query.order_by(col(Case.created_at), col(Case.id))
    if sort == "priority":
        rank = sql_case(PRIORITY_ORDER, value=col(Case.priority), else_=9)
        return query.order_by(rank, col(Case.due_at), col(Case.id))
    return query.order_by(col(Case.due_at), col(Case.id))


def publics(session: Session, cases: list[Case]) -> list[CasePublic]:
    """Cases as queues show them, with team and assignee names and a text summary."""
    if not cases:
        return []
    team_names = dict(session.exec(select(Team.id, Team.name)).all())
    users = {u.id: u.name for u in session.exec(
        select(User).where(col(User.id).in_({c.assignee_id for c in cases if c.assignee_id}))
    ).all()}  # fmt: skip
    texts = dict(session.exec(
        select(Feedback.id, func.coalesce(Feedback.text, Feedback.title, ""))
        .where(col(Feedback.id).in_([c.feedback_id for c in cases]))
    ).all())  # fmt: skip
    now = utcnow()
    return [
        CasePublic(
            **case.model_dump(exclude={"sla_warned_at", "sla_breached_at"}),
            team=team_names.get(case.team_id) if case.team_id else None,
            assignee=users.get(case.assignee_id) if case.assignee_id else None,
            sla_state=sla_state(case, now=now),
            summary=(texts.get(case.feedback_id) or "")[:160],
        )
        for case in cases
    ]


def case_detail(session: Session, *, case_id: int) -> CaseDetail:
    """A case with its feedback, the customer's other feedback and the whole trail."""
    case = get_case(session, case_id=case_id)
    [public] = publics(session, [case])
    feedback = get_feedback(session, feedback_id=case.feedback_id)
    history = []
    if feedback.customer is not None:
        page = list_feedback(
            session, filters=FeedbackFilters(customer=feedback.customer.ref), cursor=None, limit=21
        )
        history = [item for item in page.items if item.id != feedback.id][:20]
    return CaseDetail(**public.model_dump(), feedback=feedback, customer_history=history,
                      events=events_of(session, case_id=case_id))  # fmt: skip


def events_of(session: Session, *, case_id: int) -> list[EventPublic]:
    """The trail, oldest first, with people's names."""
    events = session.exec(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.id))
    ).all()
    ids = {user_id for event in events if (user_id := _user_id(event.actor)) is not None}
    names = dict(session.exec(select(User.id, User.name).where(col(User.id).in_(ids))).all())
    return [
        EventPublic(
            **event.model_dump(exclude={"case_id"}),
            actor_name=names.get(_user_id(event.actor) or 0),
        )
        for event in events
    ]


def _user_id(actor: str) -> int | None:
    """The user id in an actor like ``user:3``; None for keys, rules and the system."""
    kind, _, ident = actor.partition(":")
    return int(ident) if kind == "user" and ident.isdigit() else None


def cases_of_items(session: Session, feedback_ids: list[int]) -> dict[int, Case]:
    """The case of each of these items that has one, by feedback id."""
    if not feedback_ids:
        return {}
    query = select(Case).where(col(Case.feedback_id).in_(feedback_ids))
    return {case.feedback_id: case for case in session.exec(query).all()}
