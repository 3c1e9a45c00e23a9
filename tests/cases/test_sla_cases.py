"""SLA on both backends: due times as cases open, escalation on breach, and teams' SLA settings
through the API and the Teams page."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import col, select

from hub.auth.service import create_key
from hub.cases.models import Case, CaseEvent
from hub.cases.sla import WEEKDAYS, Schedule, add_business_time
from hub.cases.tasks import check_slas
from hub.config import Settings
from hub.feedback.models import Feedback
from hub.feedback.service import ingest
from hub.notifications.models import OutboxMessage
from hub.routing.models import RoutingRule
from hub.routing.service import route_feedback
from hub.store.engine import session_scope
from hub.store.types import utcnow
from hub.users.models import Role, Team, User
from tests.cases.test_service import Member, add_rule, team_of
from tests.conftest import Database
from tests.factories import item
from tests.signin import sign_in

H = timedelta(hours=1)
MAILING = Settings(smtp_host="smtp.example.test")


def routed_case(db: Database, *, written_ago: timedelta, settings: Settings = MAILING) -> Case:
    """Route one negative item written ``written_ago``; its case."""
    written = (utcnow() - written_ago).isoformat()
    with session_scope(db.engine) as session:
        [result] = ingest(session, raw_items=[item(created_at=written)]).results
        [case_id] = route_feedback(session, settings=settings, feedback_ids=[result.id or 0])
        case = session.get(Case, case_id)
        assert case is not None
        session.expunge(case)
        return case


def feedback_of(db: Database, case: Case) -> Feedback:
    with session_scope(db.engine) as session:
        feedback = session.get(Feedback, case.feedback_id)
        assert feedback is not None
        session.expunge(feedback)
        return feedback


def test_the_clock_starts_when_the_customer_wrote(db: Database) -> None:
    team_id, _ = team_of(db, "Support", Member())
    add_rule(db, team_id=team_id, sla_hours=48)
    case = routed_case(db, written_ago=10 * H)
    assert case.due_at == feedback_of(db, case).created_at + 48 * H
    assert case.sla_warn_at == feedback_of(db, case).created_at + 48 * 0.8 * H


def test_an_old_import_opens_with_half_its_window_left(db: Database) -> None:
    team_id, _ = team_of(db, "Support", Member())
    add_rule(db, team_id=team_id, sla_hours=48)
    case = routed_case(db, written_ago=timedelta(days=60))
    received = feedback_of(db, case).received_at
    assert case.due_at == received + 24 * H  # HUB_SLA_MAX_SPENT_SHARE = 0.5


def test_an_item_the_hub_sat_on_opens_breached(db: Database) -> None:
    team_id, _ = team_of(db, "Support", Member())
    add_rule(db, team_id=team_id, sla_hours=48)
    written = utcnow() - timedelta(days=4)
    with session_scope(db.engine) as session:
        [result] = ingest(session, raw_items=[item(created_at=written.isoformat())]).results
        feedback = session.get(Feedback, result.id)
        assert feedback is not None
        feedback.received_at = written + H  # received at once, routed only now
        session.add(feedback)
    with session_scope(db.engine) as session:
        [case_id] = route_feedback(session, settings=MAILING, feedback_ids=[result.id or 0])
        case = session.get(Case, case_id)
        assert case is not None and case.due_at is not None
        assert case.due_at == written + 48 * H < utcnow()


def test_the_routing_clock_and_business_hours(db: Database) -> None:
    team_id, _ = team_of(db, "Support", Member())
    hours = {"tue": ["09:00", "17:30"], "thu": ["10:00", "12:00"]}
    with session_scope(db.engine) as session:
        team = session.get(Team, team_id)
        assert team is not None
        team.timezone, team.business_hours = "America/Sao_Paulo", hours
        session.add(team)
    add_rule(db, team_id=team_id, sla_hours=8, sla_clock="routing")
    case = routed_case(db, written_ago=timedelta(days=60))
    schedule = Schedule.of("America/Sao_Paulo", hours)
    assert case.due_at is not None and case.sla_warn_at is not None
    assert case.due_at == add_business_time(case.created_at, 8 * H, schedule)
    assert case.sla_warn_at == add_business_time(case.created_at, 6.4 * H, schedule)
    due = case.due_at.astimezone(ZoneInfo("America/Sao_Paulo"))
    assert WEEKDAYS[due.weekday()] in hours


def _breach(db: Database, case_id: int) -> None:
    with session_scope(db.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.due_at = case.sla_warn_at = utcnow() - H
        session.add(case)
    with session_scope(db.engine) as session:
        assert check_slas(session, settings=MAILING) == 1


def _trail(db: Database, case_id: int) -> list[tuple[str, str, object, object]]:
    with session_scope(db.engine) as session:
        events = session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.id))
        ).all()
        return [(e.kind, e.actor, e.before, e.after) for e in events if e.actor == "system"]


def test_a_breach_raises_priority_reassigns_to_the_lead_and_tells_both(db: Database) -> None:
    team_id, [agent, lead] = team_of(db, "Support", Member(), Member(Role.lead))
    with session_scope(db.engine) as session:
        team = session.get(Team, team_id)
        assert team is not None
        team.lead_id = lead
        session.add(team)
    add_rule(db, team_id=team_id, assignee_id=agent, priority="high")
    case = routed_case(db, written_ago=H)
    assert case.id is not None and case.assignee_id == agent
    _breach(db, case.id)
    kinds = [(kind, before, after) for kind, _actor, before, after in _trail(db, case.id)]
    assert kinds[0][0] == "sla_breached"
    assert kinds[1] == ("priority_changed", {"priority": "high"}, {"priority": "urgent"})
    assert kinds[2][0] == "assigned" and kinds[2][2] == {"assignee_id": lead, "status": "assigned"}
    with session_scope(db.engine) as session:
        stored = session.get(Case, case.id)
        assert stored is not None and (stored.priority, stored.assignee_id) == ("urgent", lead)
        emails = dict(session.exec(select(User.id, User.email)).all())
        told = session.exec(
            select(OutboxMessage.destination)
            .where(OutboxMessage.event_type == "case.sla_breached")
        ).all()  # fmt: skip
    assert sorted(told) == sorted([emails[agent], emails[lead]])
    with session_scope(db.engine) as session:  # a second check raises nothing more
        assert check_slas(session, settings=MAILING) == 0


def test_a_team_that_does_not_escalate_only_tells_the_assignee(db: Database) -> None:
    team_id, [agent] = team_of(db, "Support", Member())
    with session_scope(db.engine) as session:
        team = session.get(Team, team_id)
        assert team is not None
        team.escalate_on_breach = False
        session.add(team)
    add_rule(db, team_id=team_id, assignee_id=agent, priority="urgent")
    case = routed_case(db, written_ago=H)
    assert case.id is not None
    _breach(db, case.id)
    assert [kind for kind, *_ in _trail(db, case.id)] == ["sla_breached"]


# ---- the team API and the Teams page --------------------------------------------------------


@pytest.mark.anyio
async def test_team_sla_settings_through_the_api(client: httpx.AsyncClient, db: Database) -> None:
    team_id, [agent] = team_of(db, "Support", Member())
    outsider = team_of(db, "Billing", Member())[1][0]
    with session_scope(db.engine) as session:
        key = create_key(session, name="admin", scopes=["admin"]).key
    admin = {"Authorization": f"Bearer {key}"}
    url = f"/api/v1/teams/{team_id}"
    hours = {"mon": ["09:00", "18:00"], "fri": ["09:00", "13:00"]}
    done = await client.patch(url, headers=admin, json={
        "timezone": "Europe/Lisbon", "business_hours": hours, "lead_id": agent,
        "escalate_on_breach": False})  # fmt: skip
    assert done.status_code == 200, done.text
    assert done.json() | {"members": []} == {
        "id": team_id, "name": "Support", "description": "", "members": [],
        "timezone": "Europe/Lisbon", "business_hours": hours, "lead_id": agent,
        "escalate_on_breach": False}  # fmt: skip
    for body, says in [
        ({"timezone": "Europe/Atlantis"}, "unknown time zone"),
        ({"timezone": None}, "not null"),
        ({"business_hours": {"mon": ["18:00", "09:00"]}}, "opens at 18:00"),
        ({"business_hours": {"someday": ["09:00", "18:00"]}}, "unknown weekday"),
        ({"business_hours": {"mon": ["9am", "6pm"]}}, "HH:MM"),
        ({"lead_id": outsider}, "not a member"),
    ]:
        refused = await client.patch(url, headers=admin, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert says in refused.text
    assert (await client.patch("/api/v1/teams/999", headers=admin, json={})).status_code == 404
    made = await client.post("/api/v1/teams", headers=admin,
                             json={"name": "Night", "timezone": "Nowhere/Else"})  # fmt: skip
    assert made.status_code == 422
    left = await client.put(f"{url}/members", headers=admin, json=[])
    assert left.json()["lead_id"] is None  # a lead who leaves the team stops leading it
    cleared = await client.patch(url, headers=admin, json={"business_hours": None})
    assert (
        cleared.json()["business_hours"] is None and cleared.json()["timezone"] == "Europe/Lisbon"
    )


@pytest.mark.anyio
async def test_team_sla_settings_on_the_teams_page(client: httpx.AsyncClient, db: Database) -> None:
    team_id, [agent] = team_of(db, "Support", Member())
    csrf = await sign_in(client, db.engine, Role.admin)
    form = {"csrf_token": csrf, "timezone": "America/New_York",
            "business_hours": "mon-fri 08:00-17:00", "lead_id": str(agent),
            "escalate_on_breach": "true"}  # fmt: skip
    saved = await client.post(f"/admin/teams/{team_id}/sla", data=form)
    assert saved.status_code == 303
    page = (await client.get("/admin/teams")).text
    assert 'value="mon-fri 08:00-17:00"' in page and 'value="America/New_York"' in page
    with session_scope(db.engine) as session:
        team = session.get(Team, team_id)
        assert team is not None and team.lead_id == agent and team.escalate_on_breach
        assert team.business_hours == {d: ["08:00", "17:00"] for d in WEEKDAYS[:5]}
    bad = await client.post(f"/admin/teams/{team_id}/sla",
                            data={**form, "business_hours": "mon-fri <b>9-5</b>"})  # fmt: skip
    assert bad.status_code == 422
    assert "times are HH:MM" in bad.text and "<b>9-5</b>" not in bad.text
    zone = await client.post(f"/admin/teams/{team_id}/sla", data={**form, "timezone": "Moon/Base"})
    assert zone.status_code == 422 and "unknown time zone" in zone.text
    no_csrf = await client.post(f"/admin/teams/{team_id}/sla", data={**form, "csrf_token": "x"})
    assert no_csrf.status_code == 403


@pytest.mark.anyio
async def test_a_rules_sla_clock_through_the_api_and_the_rule_form(
    client: httpx.AsyncClient, db: Database
) -> None:
    team_id, _ = team_of(db, "Support", Member())
    with session_scope(db.engine) as session:
        key = create_key(session, name="admin", scopes=["admin"]).key
    admin = {"Authorization": f"Bearer {key}"}
    rule = {"name": "Refunds", "team_id": team_id, "sla_hours": 8}
    made = await client.post("/api/v1/routing/rules", headers=admin, json=rule)
    assert made.status_code == 201 and made.json()["sla_clock"] == "customer"
    bad = await client.post("/api/v1/routing/rules", headers=admin,
                            json={**rule, "sla_clock": "sundial"})  # fmt: skip
    assert bad.status_code == 422
    csrf = await sign_in(client, db.engine, Role.lead)
    form = {"csrf_token": csrf, "name": "From routing", "enabled": "true", "intent": "save",
            "team_id": str(team_id), "assignee_id": "", "strategy": "none",
            "priority": "high", "sla_hours": "24", "sla_clock": "routing"}  # fmt: skip
    assert (await client.post("/admin/rules/new", data=form)).status_code == 303
    with session_scope(db.engine) as session:
        clocks = dict(session.exec(select(RoutingRule.name, RoutingRule.sla_clock)).all())
    assert clocks == {"Refunds": "customer", "From routing": "routing"}
    page = (await client.get("/admin/rules")).text
    assert "24 h from routing" in page
    refused = await client.post("/admin/rules/new", data={**form, "sla_clock": "sundial"})
    assert refused.status_code == 422 and "SLA clock" in refused.text
