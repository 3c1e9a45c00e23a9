"""Rules on past feedback, on both backends: apply opens what routing missed, Try explains,
and the default rules catch text-only complaints with the right priority."""

from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from hub.cases.models import Case, CaseEvent
from hub.demo.loader import load_demo
from hub.feedback.models import Feedback
from hub.routing.defaults import ensure_default_rules
from hub.routing.models import RoutingDecision, RuleDraft, RuleIn
from hub.routing.service import apply_rule, create_rule, route_feedback, try_rule
from hub.store.engine import session_scope
from tests.conftest import Database
from tests.factories import item
from tests.routing.test_routing import SETTINGS, agents, route, store

BIG = {"ref": "big", "name": "Big Co", "segment": "enterprise", "attributes": {"mrr": "2437"}}
SMALL = {"ref": "small", "segment": "smb", "attributes": {"mrr": "not yet"}}


def ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def text_only(text: str, days: float, customer: dict | None = None) -> dict:
    return item(text=text, created_at=ago(days), score_type=None, score=None,
                channel="ticket", customer=customer or SMALL)  # fmt: skip


def test_apply_opens_past_items_in_order_and_respects_cases_and_rule_order(db: Database) -> None:
    team, _ = agents(db, 2)
    with session_scope(db.engine) as session:
        lawyers = create_rule(session, data=RuleIn.model_validate(
            {"name": "Lawyers", "team_id": team, "conditions": {"keywords": ["lawyer"]}}
        ))  # fmt: skip
        create_rule(session, data=RuleIn.model_validate(  # disabled: takes nothing from later rules
            {"name": "Off", "team_id": team, "enabled": False,
             "conditions": {"keywords": ["charged"]}}
        ))  # fmt: skip
    first, with_case, old, last = store(
        db,
        text_only("Charged twice again", 3, BIG),
        text_only("Charged twice, my lawyer is next", 2),
        text_only("Charged twice in August", 40),  # older than the days applied
        text_only("I was charged  TWICE", 1),
    )
    route(db, [first, with_case, old, last])  # only the lawyer item gets a case
    [left_to_lawyers] = store(db, text_only("Charged twice. Lawyer.", 1))  # not routed yet
    with session_scope(db.engine) as session:
        charges = create_rule(session, data=RuleIn.model_validate(
            {"name": "Duplicate charges", "team_id": team, "strategy": "least_loaded",
             "conditions": {"keywords": ["charged twice"]},
             "raise_priority_for": {"segments": ["enterprise"]}}
        ))  # fmt: skip
        result = apply_rule(session, settings=SETTINGS, rule_id=charges.id, days=30)
    assert (result.matched, result.opened, result.skipped_with_case,
            result.taken_by_earlier_rules) == (4, 2, 1, 1)  # fmt: skip
    with session_scope(db.engine) as session:
        cases = {c.feedback_id: c for c in session.exec(select(Case))}
        assert result.case_ids == [cases[first].id, cases[last].id]  # in item order
        assert (cases[first].priority, cases[last].priority) == ("high", "normal")
        assert cases[with_case].rule_id == lawyers.id and old not in cases
        decisions = {d.feedback_id: d for d in session.exec(select(RoutingDecision))}
        assert decisions[first].rule_id == charges.id
        assert decisions[first].case_id == cases[first].id
        assert decisions[first].reason == (
            "applied to the last 30 days: rule 'Duplicate charges': keyword \"charged twice\"; "
            "priority normal → high: customer segment enterprise"
        )
        actors = {e.actor for e in session.exec(
            select(CaseEvent).where(col(CaseEvent.case_id).in_(result.case_ids))
        )}  # fmt: skip
        assert actors == {f"rule:{charges.id}"}
    # Routing never opens a second case; the item left to the lawyers' rule goes there.
    assert len(route(db, [first, last, left_to_lawyers])) == 1
    with session_scope(db.engine) as session:
        assert session.get(RoutingDecision, decisions[last].id).rule_id == charges.id  # type: ignore[union-attr]
        again = apply_rule(session, settings=SETTINGS, rule_id=charges.id, days=30)
        assert (again.opened, again.skipped_with_case) == (0, 4)
        assert len(session.exec(select(Case)).all()) == 4


def test_try_says_which_earlier_rule_takes_an_item_and_what_can_never_match(db: Database) -> None:
    team, _ = agents(db, 1)
    with session_scope(db.engine) as session:
        lawyers = create_rule(session, data=RuleIn.model_validate(
            {"name": "Lawyers", "team_id": team, "conditions": {"keywords": ["lawyer"]}}
        ))  # fmt: skip
    plain, lawyer = store(db, text_only("Charged twice", 2), text_only("Charged twice. Lawyer!", 1))
    draft = RuleDraft.model_validate({"conditions": {"keywords": ["charged twice"]}})
    with session_scope(db.engine) as session:
        new = try_rule(session, data=draft, days=7)  # a new rule comes after every enabled one
        first = try_rule(session, data=draft, days=7, rule_id=lawyers.id)  # in the first place
        never = try_rule(session, days=7, data=RuleDraft.model_validate({"conditions": {
            "sentiments": ["negative"], "topics": ["no-such-topic"], "sources": ["Nowhere"],
            "scores": [{"score_type": "csat", "max": 2}], "attribute_ranges": {"mrr": {"min": 1}},
            "segments": ["enterprise"], "attributes": {"seats": ["5"]},
        }}))  # fmt: skip
    assert (new.matched, new.taken_by_earlier_rules, new.would_open) == (2, 1, 1)
    assert [(e.feedback_id, e.link, e.taken_by) for e in new.examples] == [
        (lawyer, f"/feedback/{lawyer}", "Lawyers"), (plain, f"/feedback/{plain}", None),
    ]  # fmt: skip
    assert (first.taken_by_earlier_rules, first.would_open) == (0, 2)
    assert never.matched == 0
    assert never.never_matches == [
        "sentiment: no item of the last 7 days has a sentiment (is the NLP worker running with a "
        "sentiment model?)",
        "score: no item of the last 7 days has a csat score",
        "topic: there is no topic 'no-such-topic'",
        "source: there is no source 'Nowhere'",
        "segment: no item of the last 7 days is from a customer in enterprise",
        "attribute: no item of the last 7 days is from a customer with 'seats'",
        "attribute: 'mrr' is never a number among the customers",
    ]


def test_default_rules_catch_text_only_complaints_and_raise_for_valuable_customers(
    db: Database,
) -> None:
    agents(db, 2)
    with session_scope(db.engine) as session:
        ensure_default_rules(session)
    escalate, espanol, negative, valued, detractor, fine = store(
        db,
        text_only("Charged twice AGAIN \u2013 please escalate", 9, BIG),
        text_only("Voy a llamar a mi ABOGADO", 2),
        text_only("The app keeps logging me out", 2),
        text_only("The app keeps logging me out", 2, {**BIG, "ref": "mrr", "segment": None}),
        item(score_type="nps", score=2, text="Meh", created_at=ago(1), customer=BIG),
        text_only("Thanks, all sorted", 1),
    )
    with session_scope(db.engine) as session:  # what the NLP worker would have found
        for feedback in session.exec(select(Feedback)):
            feedback.sentiment = "negative" if feedback.id in (negative, valued) else "neutral"
            session.add(feedback)
    ids = [escalate, espanol, negative, valued, detractor, fine]
    with session_scope(db.engine) as session:
        route_feedback(session, settings=SETTINGS, feedback_ids=ids)
        priorities = {c.feedback_id: c.priority for c in session.exec(select(Case))}
        reason = session.exec(
            select(RoutingDecision.reason).where(RoutingDecision.feedback_id == valued)
        ).one()
    assert priorities == {escalate: "urgent", espanol: "urgent", negative: "normal",
                          valued: "high", detractor: "urgent"}  # fmt: skip
    assert reason == (
        "rule 'Negative sentiment': sentiment negative; priority normal → high: "
        "customer mrr ≥ 1000 (2437)"
    )


def test_the_demo_escalation_gets_an_urgent_case(db: Database) -> None:
    """What `feedback-hub demo` and the worker do (routing after NLP, sentiment aside)."""
    with session_scope(db.engine) as session:
        ensure_default_rules(session)  # first, as `demo` and `serve --demo` do
    load_demo(db.engine)
    with session_scope(db.engine) as session:
        ids = [i for i in session.exec(select(Feedback.id)) if i is not None]
        route_feedback(session, settings=SETTINGS, feedback_ids=ids)
        case, reason = session.exec(
            select(Case, RoutingDecision.reason)
            .join(Feedback, col(Feedback.id) == col(Case.feedback_id))
            .join(RoutingDecision, col(RoutingDecision.case_id) == col(Case.id))
            .where(col(Feedback.title).startswith("Charged twice AGAIN"))
        ).one()
    assert (case.priority, case.status) == ("urgent", "assigned")
    assert reason == "rule 'Urgent words': keyword \"escalate\""
