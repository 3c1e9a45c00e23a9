"""Routing rules: managing them, routing enriched feedback to cases, trying a rule first, and
applying it to past feedback.

Rules are tried in ``position`` order and the first enabled one that matches wins. Each routed
item gets one RoutingDecision (which rule, which case, why), also when no rule matched, so an
item is never routed twice and every decision can be audited.
"""

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from hub.cases.models import Case
from hub.cases.service import open_case
from hub.cases.sla import SlaClock
from hub.config import Settings
from hub.customers.models import Customer
from hub.errors import Conflict, InvalidInput, NotFound
from hub.feedback.models import Feedback
from hub.routing.models import (
    ApplyResult,
    Conditions,
    Priority,
    PriorityRaise,
    RoutingDecision,
    RoutingRule,
    RuleDraft,
    RuleIn,
    RulePublic,
    RuleTrial,
    Strategy,
    TrialExample,
)
from hub.routing.rules import Facts, explain, fold, number, raised_priority
from hub.sources.models import Source
from hub.store.types import utcnow
from hub.topics.models import FeedbackTopic, Topic
from hub.users.models import Team, User

DEFAULT_TEAM = "Support"


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
    rules = _enabled_rules(session)
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
        case_id, reason = _open(session, settings, rule, feedback_id, facts, reasons)
        session.add(
            RoutingDecision(
                feedback_id=feedback_id, rule_id=rule.id, case_id=case_id, reason=reason
            )
        )
        return case_id
    session.add(RoutingDecision(feedback_id=feedback_id, reason="no rule matched"))
    return None


def _open(
    session: Session,
    settings: Settings,
    rule: RoutingRule,
    feedback_id: int,
    facts: Facts,
    reasons: list[str],
) -> tuple[int, str]:
    """Open the rule's case for an item (priority raised for valuable customers); and why."""
    priority = Priority(rule.priority)
    why = [*reasons] or ["takes everything"]
    raise_for = (
        PriorityRaise.model_validate(rule.raise_priority_for) if rule.raise_priority_for else None
    )
    raised = raised_priority(raise_for, facts, priority)
    if raised is not None:
        priority, because = raised
        why.append(because)
    case = open_case(
        session,
        settings=settings,
        feedback_id=feedback_id,
        team_id=rule.team_id,
        assignee_id=rule.assignee_id,
        strategy=Strategy(rule.strategy),
        priority=priority,
        sla_hours=rule.sla_hours,
        sla_clock=SlaClock(rule.sla_clock),
        rule_id=rule.id,
        actor=f"rule:{rule.id}",
    )
    assert case.id is not None
    return case.id, f"rule {rule.name!r}: " + "; ".join(why)


def _enabled_rules(
    session: Session, *, before: int | None = None
) -> list[tuple[RoutingRule, Conditions]]:
    """The enabled rules in the order they are tried (only those before a position, if given)."""
    query = select(RoutingRule).where(col(RoutingRule.enabled).is_(True))
    if before is not None:
        query = query.where(col(RoutingRule.position) < before)
    rules = session.exec(query.order_by(col(RoutingRule.position))).all()
    return [(rule, Conditions.model_validate(rule.conditions)) for rule in rules]


def _taken_by(earlier: list[tuple[RoutingRule, Conditions]], facts: Facts) -> RoutingRule | None:
    return next((rule for rule, c in earlier if explain(c, facts) is not None), None)


def _recent_ids(session: Session, days: int) -> list[int]:
    """Items the customer wrote in the last ``days`` (by Feedback.created_at), in item order."""
    return [
        i
        for i in session.exec(
            select(Feedback.id)
            .where(col(Feedback.created_at) >= utcnow() - timedelta(days=days))
            .order_by(col(Feedback.id))
        ).all()
        if i is not None
    ]


def _cases_of(session: Session, feedback_ids: list[int]) -> dict[int, int]:
    """feedback id -> id of the case it has (open or closed)."""
    rows = session.exec(
        select(Case.feedback_id, Case.id).where(col(Case.feedback_id).in_(feedback_ids))
    ).all()
    return {feedback_id: case_id for feedback_id, case_id in rows if case_id is not None}


def try_rule(
    session: Session,
    *,
    data: RuleDraft,
    days: int = 30,
    rule_id: int | None = None,
    limit: int = 2000,
) -> RuleTrial:
    """What a rule would take among the newest ``limit`` items of ``days``, with examples.

    Respects rule order: a stored rule (``rule_id``) comes after the enabled rules above it; a
    new one after every enabled rule, where saving it would put it.
    """
    position = _rule(session, rule_id).position if rule_id is not None else None
    earlier = [
        (rule, c) for rule, c in _enabled_rules(session, before=position) if rule.id != rule_id
    ]
    ids = list(reversed(_recent_ids(session, days)))[:limit]  # newest first
    facts = facts_of(session, ids)
    matched = [
        (i, reasons)
        for i in ids
        if i in facts and (reasons := explain(data.conditions, facts[i])) is not None
    ]
    cases = _cases_of(session, [i for i, _ in matched])
    examples = []
    for i, reasons in matched:
        taken = _taken_by(earlier, facts[i])
        examples.append(
            TrialExample(
                feedback_id=i, link=f"/feedback/{i}", text=facts[i].text[:200], why=reasons,
                taken_by=taken.name if taken else None, case_id=cases.get(i),
            )
        )  # fmt: skip
    taken_count = sum(1 for e in examples if e.taken_by and e.case_id is None)
    with_case = sum(1 for e in examples if e.case_id is not None)
    return RuleTrial(
        days=days,
        examined=len(facts),
        matched=len(matched),
        taken_by_earlier_rules=taken_count,
        with_case=with_case,
        would_open=len(matched) - taken_count - with_case,
        never_matches=never_matches(session, data.conditions, list(facts.values()), days),
        examples=examples[:10],
    )


def never_matches(
    session: Session, conditions: Conditions, facts: list[Facts], days: int
) -> list[str]:
    """Why a condition can never match: nothing it names exists among the items examined."""
    c, reasons = conditions, []
    window = f"no item of the last {days} days"
    if c.sentiments and not any(f.sentiment for f in facts):
        reasons.append(
            f"sentiment: {window} has a sentiment (is the NLP worker running with a "
            "sentiment model?)"
        )
    known_types = {f.score_type for f in facts}
    for score in c.scores:
        if score.score_type.value not in known_types:
            reasons.append(f"score: {window} has a {score.score_type.value} score")
    if c.topics:
        known = set(session.exec(select(Topic.key).where(col(Topic.key).in_(c.topics))).all())
        reasons += [f"topic: there is no topic {key!r}" for key in c.topics if key not in known]
    if c.sources:
        known = set(session.exec(select(Source.name).where(col(Source.name).in_(c.sources))).all())
        reasons += [f"source: there is no source {n!r}" for n in c.sources if n not in known]
    segments = {fold(f.segment) for f in facts if f.segment}
    if c.segments and not segments & {fold(s) for s in c.segments}:
        reasons.append(f"segment: {window} is from a customer in {' or '.join(c.segments)}")
    for name in [*c.attributes, *c.attribute_ranges]:
        if not any(name in f.attributes for f in facts):
            reasons.append(f"attribute: {window} is from a customer with {name!r}")
    for name in c.attribute_ranges:
        if any(name in f.attributes for f in facts) and not any(
            number(f.attributes.get(name)) is not None for f in facts
        ):
            reasons.append(f"attribute: {name!r} is never a number among the customers")
    return reasons


def apply_rule(session: Session, *, settings: Settings, rule_id: int, days: int) -> ApplyResult:
    """Open the rule's cases for matching items of the last ``days`` that have none yet.

    Items go in item order. One that already has a case is skipped; one an earlier enabled rule
    would take is left to that rule (counted, not opened: apply that rule to open it). Each case
    opened gets its RoutingDecision (added, or replacing "no rule matched"), so routing never
    opens a second case for the item; the audit trail is routing's, by ``rule:{id}``.
    """
    rule = _rule(session, rule_id)
    if rule.team_id is None and rule.assignee_id is None:
        raise Conflict(f"rule {rule.name!r} sends to nobody: its team or person was removed")
    result = ApplyResult(matched=0, opened=0, skipped_with_case=0, taken_by_earlier_rules=0,
                         case_ids=[])  # fmt: skip
    ids = _recent_ids(session, days)
    try:
        for start in range(0, len(ids), 500):
            _apply_to(session, settings, rule, ids[start : start + 500], days, result)
        session.flush()
    except IntegrityError as exc:  # the worker routed one of these items meanwhile
        raise Conflict(
            "some of these items got a case at the same time; nothing was opened: apply again"
        ) from exc
    result.opened = len(result.case_ids)
    return result


def _apply_to(
    session: Session,
    settings: Settings,
    rule: RoutingRule,
    feedback_ids: list[int],
    days: int,
    result: ApplyResult,
) -> None:
    """Apply a rule to one batch of items, counting into ``result``."""
    conditions = Conditions.model_validate(rule.conditions)
    earlier = [(r, c) for r, c in _enabled_rules(session, before=rule.position) if r.id != rule.id]
    facts = facts_of(session, feedback_ids)
    cases = _cases_of(session, feedback_ids)
    to_open = []
    for i in feedback_ids:
        reasons = explain(conditions, facts[i]) if i in facts else None
        if reasons is None:
            continue
        result.matched += 1
        if i in cases:
            result.skipped_with_case += 1
        elif _taken_by(earlier, facts[i]) is not None:
            result.taken_by_earlier_rules += 1
        else:
            to_open.append((i, reasons))
    decisions = _decisions(session, [i for i, _ in to_open])
    for i, reasons in to_open:
        case_id, reason = _open(session, settings, rule, i, facts[i], reasons)
        decision = decisions.get(i) or RoutingDecision(feedback_id=i, reason="")
        decision.rule_id, decision.case_id, decision.decided_at = rule.id, case_id, utcnow()
        decision.reason = f"applied to the last {days} days: {reason}"
        session.add(decision)  # added, or replacing e.g. "no rule matched"
        result.case_ids.append(case_id)


def _decisions(session: Session, feedback_ids: list[int]) -> dict[int, RoutingDecision]:
    """The routing decisions already taken on these items, by item."""
    if not feedback_ids:
        return {}
    query = select(RoutingDecision).where(col(RoutingDecision.feedback_id).in_(feedback_ids))
    return {decision.feedback_id: decision for decision in session.exec(query).all()}


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
        raise_priority_for=rule.raise_priority_for,
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
        "raise_priority_for": (
            data.raise_priority_for.model_dump(mode="json", exclude_defaults=True)
            if data.raise_priority_for
            else None
        ),
        "sla_clock": data.sla_clock.value,
    }


def _check_owners(session: Session, data: RuleIn) -> None:
    if data.team_id is not None and session.get(Team, data.team_id) is None:
        raise InvalidInput(f"no team with id {data.team_id}")
    if data.assignee_id is not None and session.get(User, data.assignee_id) is None:
        raise InvalidInput(f"no user with id {data.assignee_id}")


def _rule(session: Session, rule_id: int) -> RoutingRule:
    """A stored rule, or 404."""
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound(f"no routing rule with id {rule_id}")
    return rule
