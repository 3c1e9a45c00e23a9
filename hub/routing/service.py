"""Routing rules: managing them, routing enriched feedback to cases, trying a rule first.

Rules are tried in ``position`` order and the first enabled one that matches wins. Each routed
item gets one RoutingDecision (which rule, which case, why), also when no rule matched, so an
item is never routed twice and every decision can be audited.
"""

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from hub.cases.service import open_case
from hub.cases.sla import SlaClock
from hub.config import Settings
from hub.customers.models import Customer
from hub.errors import InvalidInput, NotFound
from hub.feedback.models import Feedback, ScoreType
from hub.routing.models import (
    Conditions,
    Priority,
    RoutingDecision,
    RoutingRule,
    RuleIn,
    RulePublic,
    RuleTrial,
    ScoreRange,
    Strategy,
)
from hub.routing.rules import Facts, explain
from hub.scores import SCALES
from hub.sources.models import Source
from hub.store.types import utcnow
from hub.topics.models import FeedbackTopic, Topic
from hub.users.models import Team, TeamCreate, User
from hub.users.service import create_team

DEFAULT_TEAM = "Support"


def ensure_default_rules(session: Session) -> None:
    """On first start: detractors, low scores and negative sentiment go to Support, 48 h."""
    if session.exec(select(RoutingRule.id)).first() is not None:
        return
    team = session.exec(select(Team).where(Team.name == DEFAULT_TEAM)).first()
    team_id = team.id if team else create_team(session, data=TeamCreate(name=DEFAULT_TEAM)).id
    low_scores = [
        ScoreRange(score_type=ScoreType(kind), max=scale.bad_at_most)
        for kind, scale in SCALES.items()
    ]
    for name, conditions, priority in (
        ("Detractors and low scores", Conditions(scores=low_scores), Priority.high),
        ("Negative sentiment", Conditions(sentiments=["negative"]), Priority.normal),
    ):
        create_rule(
            session,
            data=RuleIn(
                name=name,
                conditions=conditions,
                team_id=team_id,
                strategy=Strategy.least_loaded,
                priority=priority,
                sla_hours=48,
            ),
        )


def list_rules(session: Session) -> list[RulePublic]:
    """Every rule in the order they are tried."""
    rules = session.exec(select(RoutingRule).order_by(col(RoutingRule.position))).all()
    return [rule_public(rule) for rule in rules]


def create_rule(session: Session, *, data: RuleIn) -> RulePublic:
    """A new rule, tried after the existing ones."""
    _check_owners(session, data)
    last = session.exec(select(func.max(RoutingRule.position))).one()
    rule = RoutingRule(position=(last or 0) + 1, **_columns(data))
    session.add(rule)
    session.flush()
    return rule_public(rule)


def update_rule(session: Session, *, rule_id: int, data: RuleIn) -> RulePublic:
    """Replace a rule's conditions and outcome (its position stays)."""
    _check_owners(session, data)
    rule = _rule(session, rule_id)
    for name, value in _columns(data).items():
        setattr(rule, name, value)
    rule.updated_at = utcnow()
    session.add(rule)
    return rule_public(rule)


def reorder_rules(session: Session, *, rule_ids: Sequence[int]) -> list[RulePublic]:
    """Set the order rules are tried in; ``rule_ids`` must name every rule once."""
    rules = {rule.id or 0: rule for rule in session.exec(select(RoutingRule)).all()}
    if sorted(rule_ids) != sorted(rules):
        raise InvalidInput("give every rule's id exactly once, in the new order")
    for position, rule_id in enumerate(rule_ids, start=1):
        rules[rule_id].position = position
        session.add(rules[rule_id])
    session.flush()
    return list_rules(session)


def delete_rule(session: Session, *, rule_id: int) -> None:
    """Remove a rule (decisions and cases it made keep their history)."""
    session.delete(_rule(session, rule_id))


def route_feedback(
    session: Session, *, settings: Settings, feedback_ids: Iterable[int]
) -> list[int]:
    """Route items not routed before; returns the ids of the cases opened."""
    ids = sorted(set(feedback_ids))
    if not ids:
        return []
    done = set(
        session.exec(
            select(RoutingDecision.feedback_id).where(col(RoutingDecision.feedback_id).in_(ids))
        ).all()
    )
    rules = [
        (rule, Conditions.model_validate(rule.conditions))
        for rule in session.exec(
            select(RoutingRule)
            .where(col(RoutingRule.enabled).is_(True))
            .order_by(col(RoutingRule.position))
        ).all()
    ]
    opened = []
    found = facts_of(session, [i for i in ids if i not in done])
    for feedback_id in sorted(found):  # cases open in the items' order, on every backend
        case_id = _route_one(session, settings, feedback_id, found[feedback_id], rules)
        if case_id is not None:
            opened.append(case_id)
    return opened


def _route_one(
    session: Session,
    settings: Settings,
    feedback_id: int,
    facts: Facts,
    rules: list[tuple[RoutingRule, Conditions]],
) -> int | None:
    for rule, conditions in rules:
        reasons = explain(conditions, facts)
        if reasons is None:
            continue
        case = open_case(
            session,
            settings=settings,
            feedback_id=feedback_id,
            team_id=rule.team_id,
            assignee_id=rule.assignee_id,
            strategy=Strategy(rule.strategy),
            priority=Priority(rule.priority),
            sla_hours=rule.sla_hours,
            sla_clock=SlaClock(rule.sla_clock),
            rule_id=rule.id,
            actor=f"rule:{rule.id}",
        )
        reason = f"rule {rule.name!r}: " + ("; ".join(reasons) or "takes everything")
        session.add(
            RoutingDecision(
                feedback_id=feedback_id, rule_id=rule.id, case_id=case.id, reason=reason
            )
        )
        return case.id
    session.add(RoutingDecision(feedback_id=feedback_id, reason="no rule matched"))
    return None


def try_rule(session: Session, *, data: RuleIn, days: int = 30, limit: int = 2000) -> RuleTrial:
    """How many of the last ``limit`` items of ``days`` a rule would take, with examples."""
    conditions = data.conditions
    ids = session.exec(
        select(Feedback.id)
        .where(Feedback.created_at >= utcnow() - timedelta(days=days))
        .order_by(col(Feedback.created_at).desc())
        .limit(limit)
    ).all()
    facts = facts_of(session, [i for i in ids if i is not None])
    # In ``ids`` order (newest first): facts_of's query has no order, so its dict has none either.
    matched = [
        (i, reasons)
        for i in ids
        if i in facts and (reasons := explain(conditions, facts[i])) is not None
    ]
    examples = [
        {"feedback_id": i, "text": facts[i].text[:200], "why": reasons}
        for i, reasons in matched[:10]
    ]
    return RuleTrial(examined=len(facts), matched=len(matched), examples=examples)


def facts_of(session: Session, feedback_ids: list[int]) -> dict[int, Facts]:
    """What routing needs to know about each item, in a few queries."""
    if not feedback_ids:
        return {}
    rows = session.exec(
        select(Feedback, Source.name, Source.kind, Customer)
        .join(Source, col(Source.id) == col(Feedback.source_id))
        .outerjoin(Customer, col(Customer.id) == col(Feedback.customer_id))
        .where(col(Feedback.id).in_(feedback_ids))
    ).all()
    topics: dict[int, set[str]] = {}
    for feedback_id, key in session.exec(
        select(FeedbackTopic.feedback_id, Topic.key)
        .join(Topic, col(Topic.id) == col(FeedbackTopic.topic_id))
        .where(col(FeedbackTopic.feedback_id).in_(feedback_ids))
    ).all():
        topics.setdefault(feedback_id, set()).add(key)
    return {
        feedback.id or 0: Facts(
            text=" ".join(part for part in (feedback.title, feedback.text) if part),
            sentiment=feedback.sentiment,
            score_type=feedback.score_type,
            score=feedback.score,
            topics=frozenset(topics.get(feedback.id or 0, ())),
            source=source,
            source_kind=kind,
            channel=feedback.channel,
            language=feedback.language,
            segment=customer.segment if customer else None,
            attributes=customer.attributes if customer else {},
        )
        for feedback, source, kind, customer in rows
    }


def rule_public(rule: RoutingRule) -> RulePublic:
    """A rule as the API shows it."""
    assert rule.id is not None
    return RulePublic(
        id=rule.id,
        position=rule.position,
        name=rule.name,
        enabled=rule.enabled,
        conditions=Conditions.model_validate(rule.conditions),
        team_id=rule.team_id,
        assignee_id=rule.assignee_id,
        strategy=Strategy(rule.strategy),
        priority=Priority(rule.priority),
        sla_hours=rule.sla_hours,
        sla_clock=SlaClock(rule.sla_clock),
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


def _columns(data: RuleIn) -> dict[str, Any]:
    return {
        "name": data.name.strip(),
        "enabled": data.enabled,
        "conditions": data.conditions.model_dump(mode="json", exclude_defaults=True),
        "team_id": data.team_id,
        "assignee_id": data.assignee_id,
        "strategy": data.strategy.value,
        "priority": data.priority.value,
        "sla_hours": data.sla_hours,
        "sla_clock": data.sla_clock.value,
    }


def _check_owners(session: Session, data: RuleIn) -> None:
    if data.team_id is not None and session.get(Team, data.team_id) is None:
        raise InvalidInput(f"no team with id {data.team_id}")
    if data.assignee_id is not None and session.get(User, data.assignee_id) is None:
        raise InvalidInput(f"no user with id {data.assignee_id}")


def _rule(session: Session, rule_id: int) -> RoutingRule:
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound(f"no routing rule with id {rule_id}")
    return rule
