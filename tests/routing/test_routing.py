"""Routing on both backends: default rules, first match wins, decisions kept, assignment."""

import httpx
import pytest
from sqlmodel import select

from hub.cases.models import Case, CaseEvent
from hub.config import Settings
from hub.feedback.service import ingest
from hub.routing.defaults import ensure_default_rules
from hub.routing.models import RoutingDecision, RuleIn
from hub.routing.service import (
    create_rule,
    list_rules,
    reorder_rules,
    route_feedback,
    try_rule,
)
from hub.store.engine import session_scope
from hub.users.models import Role, TeamCreate, UserCreate
from hub.users.service import create_team, create_user, set_members
from tests.conftest import Database
from tests.factories import item

SETTINGS = Settings()


def store(db: Database, *items: dict) -> list[int]:
    with session_scope(db.engine) as session:
        return [r.id for r in ingest(session, raw_items=list(items)).results]  # type: ignore[misc]


def route(db: Database, ids: list[int]) -> list[int]:
    with session_scope(db.engine) as session:
        return route_feedback(session, settings=SETTINGS, feedback_ids=ids)


def agents(db: Database, count: int, team: str = "Support") -> tuple[int, list[int]]:
    with session_scope(db.engine) as session:
        team_id = create_team(session, data=TeamCreate(name=team)).id
        ids = [
            create_user(session, data=UserCreate(
                email=f"agent{n}@{team.lower()}.example", password="agents-of-care",
                role=Role.agent,
            )).id
            for n in range(count)
        ]  # fmt: skip
        set_members(session, team_id=team_id, user_ids=ids)
    return team_id, ids


def test_default_rules_route_detractors_and_leave_promoters(db: Database) -> None:
    _team, [ana, bo] = agents(db, 2)
    with session_scope(db.engine) as session:
        ensure_default_rules(session)
        ensure_default_rules(session)  # idempotent
        assert [rule.name for rule in list_rules(session)] == [
            "Urgent words", "Detractors and low scores", "Negative sentiment",
        ]  # fmt: skip
    ids = store(
        db,
        item(score_type="nps", score=3, text="Late again"),
        item(score_type="nps", score=10, text="Love it"),
        item(score_type="thumbs", score=0, text="Not helpful"),
        item(score_type="ces", score=6, text="Easy"),
    )
    opened = route(db, ids)
    assert len(opened) == 2
    with session_scope(db.engine) as session:
        cases = session.exec(select(Case).order_by(Case.id)).all()  # type: ignore[arg-type]
        assert [c.feedback_id for c in cases] == [ids[0], ids[2]]
        assert {c.priority for c in cases} == {"high"}
        assert sorted(c.assignee_id for c in cases) == [ana, bo]  # least loaded spreads them
        assert all(c.status == "assigned" and c.due_at is not None for c in cases)
        decisions = {d.feedback_id: d for d in session.exec(select(RoutingDecision))}
        assert decisions[ids[0]].reason == "rule 'Detractors and low scores': nps 3"
        assert decisions[ids[1]].reason == "no rule matched" and decisions[ids[1]].case_id is None
        kinds = [
            e.kind for e in session.exec(select(CaseEvent).where(CaseEvent.case_id == cases[0].id))
        ]
        assert kinds == ["created", "assigned"]


def test_an_item_is_routed_once(db: Database) -> None:
    team, _ = agents(db, 1)
    with session_scope(db.engine) as session:
        create_rule(session, data=RuleIn(name="all", team_id=team))
    [feedback_id] = store(db, item())
    assert len(route(db, [feedback_id])) == 1
    assert route(db, [feedback_id]) == []
    with session_scope(db.engine) as session:
        assert len(session.exec(select(Case)).all()) == 1


def test_first_matching_rule_wins_in_the_order_set(db: Database) -> None:
    billing, _ = agents(db, 1, "Billing")
    support, _ = agents(db, 1, "Support")
    with session_scope(db.engine) as session:
        by_keyword = create_rule(session, data=RuleIn.model_validate(
            {"name": "refunds", "team_id": billing, "conditions": {"keywords": ["refund"]}}
        ))  # fmt: skip
        catch_all = create_rule(session, data=RuleIn(name="rest", team_id=support))
        reorder_rules(session, rule_ids=[catch_all.id, by_keyword.id])
    [first] = store(db, item(text="Where is my refund?"))
    route(db, [first])
    with session_scope(db.engine) as session:
        reorder_rules(session, rule_ids=[by_keyword.id, catch_all.id])
    [second] = store(db, item(text="Where is my refund?"))
    route(db, [second])
    with session_scope(db.engine) as session:
        teams = {c.feedback_id: c.team_id for c in session.exec(select(Case))}
    assert teams == {first: support, second: billing}


def test_round_robin_takes_turns(db: Database) -> None:
    team, members = agents(db, 3)
    with session_scope(db.engine) as session:
        create_rule(session, data=RuleIn(name="rr", team_id=team, strategy="round_robin"))  # type: ignore[arg-type]
    for text in ("a", "b", "c", "d"):
        route(db, store(db, item(text=text)))
    with session_scope(db.engine) as session:
        order = [c.assignee_id for c in session.exec(select(Case).order_by(Case.id))]  # type: ignore[arg-type]
    assert order == [*members, members[0]]


def test_a_rule_for_a_person_and_a_rule_for_a_team_queue(db: Database) -> None:
    team, [ana] = agents(db, 1)
    with session_scope(db.engine) as session:
        create_rule(session, data=RuleIn.model_validate(
            {"name": "vip", "assignee_id": ana, "conditions": {"segments": ["enterprise"]},
             "priority": "urgent", "sla_hours": 4, "sla_clock": "routing"}
        ))  # fmt: skip
        create_rule(session, data=RuleIn(name="queue", team_id=team))
    vip = item(customer={"ref": "big", "segment": "enterprise"})
    ids = store(db, vip, item())
    route(db, ids)
    with session_scope(db.engine) as session:
        cases = {c.feedback_id: c for c in session.exec(select(Case))}
    assert (cases[ids[0]].assignee_id, cases[ids[0]].priority) == (ana, "urgent")
    assert (cases[ids[1]].assignee_id, cases[ids[1]].status) == (None, "new")
    hours = (cases[ids[0]].due_at - cases[ids[0]].created_at).total_seconds() / 3600  # type: ignore[operator]
    assert hours == pytest.approx(4)


def test_try_a_rule_before_saving_it(db: Database) -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC).isoformat()
    store(
        db, *(item(text=t, created_at=now) for t in ("refund please", "all good", "no refund yet"))
    )
    team, _ = agents(db, 1)
    with session_scope(db.engine) as session:
        trial = try_rule(session, data=RuleIn.model_validate(
            {"name": "t", "team_id": team, "conditions": {"keywords": ["refund"]}}
        ))  # fmt: skip
        assert session.exec(select(Case)).all() == []  # trying stores nothing
    assert (trial.examined, trial.matched) == (3, 2)
    assert all(example.why == ['keyword "refund"'] for example in trial.examples)


@pytest.mark.anyio
async def test_rules_api(client: httpx.AsyncClient, db: Database) -> None:
    from hub.auth.service import create_key

    team, _ = agents(db, 1)
    with session_scope(db.engine) as session:
        admin = {"Authorization": f"Bearer {create_key(session, name='a', scopes=['admin']).key}"}
        reader = {"Authorization": f"Bearer {create_key(session, name='r', scopes=['read']).key}"}
    rule = {"name": "refunds", "team_id": team, "conditions": {"keywords": ["refund"]}}
    created = await client.post("/api/v1/routing/rules", json=rule, headers=admin)
    assert created.status_code == 201, created.text
    assert (
        await client.post("/api/v1/routing/rules", json=rule, headers=reader)
    ).status_code == 403
    bad = await client.post("/api/v1/routing/rules", json={**rule, "team_id": 999}, headers=admin)
    assert bad.status_code == 422 and "no team with id 999" in bad.text
    tried = await client.post("/api/v1/routing/rules/try", json=rule, headers=admin)
    assert tried.json()["examined"] == 0
    listed = await client.get("/api/v1/routing/rules", headers=reader)
    assert [r["name"] for r in listed.json()] == ["refunds"]
    rule_id = created.json()["id"]
    changed = await client.put(f"/api/v1/routing/rules/{rule_id}", json={**rule, "enabled": False},
                               headers=admin)  # fmt: skip
    assert changed.json()["enabled"] is False
    assert (
        await client.put("/api/v1/routing/rules/order", json=[rule_id, 5], headers=admin)
    ).status_code == 422
    assert (
        await client.delete(f"/api/v1/routing/rules/{rule_id}", headers=admin)
    ).status_code == 204
