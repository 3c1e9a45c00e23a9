"""Admin pages through the ASGI app: who may do what, and the rows each form changes."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from hub.auth.sessions import UserSession
from hub.routing.models import RoutingRule
from hub.store.engine import session_scope
from hub.users.models import Role, Team, TeamCreate, TeamMember, User, UserCreate
from hub.users.service import create_team, create_user
from tests.conftest import Database
from tests.factories import item
from tests.signin import PASSWORD, sign_in

pytestmark = pytest.mark.anyio


@dataclass
class World:
    """What the admin pages work on: a team, a person in it, a rule sending to the team."""

    team_id: int
    user_id: int
    rule_id: int


@pytest.fixture
def world(db: Database) -> World:
    with session_scope(db.engine) as session:
        team = create_team(session, data=TeamCreate(name="Billing"))
        person = create_user(
            session,
            data=UserCreate(email="bo@cestia.example", name="Bo", password=PASSWORD,
                            role=Role.agent),
        )  # fmt: skip
        rule = RoutingRule(name="Refunds", position=1, conditions={"keywords": ["refund"]},
                           team_id=team.id)  # fmt: skip
        session.add(rule)
        session.flush()
        assert rule.id is not None
        return World(team_id=team.id, user_id=person.id, rule_id=rule.id)


def rule_form(**overrides: Any) -> dict[str, Any]:
    """A valid rule form as a browser posts it (lists are repeated fields)."""
    form: dict[str, Any] = {"name": "Angry enterprise", "enabled": "true", "team_id": "",
                            "assignee_id": "", "strategy": "none", "priority": "high",
                            "sla_hours": "24", "intent": "save"}  # fmt: skip
    form.update(overrides)
    return form


def routes(w: World) -> list[tuple[str, str, dict[str, Any] | None, Role, int]]:
    """(method, path, form, the least role that may, the status when allowed)."""
    team = str(w.team_id)
    return [
        ("GET", "/admin", None, Role.lead, 303),
        ("GET", "/admin/rules", None, Role.lead, 200),
        ("GET", "/admin/rules/new", None, Role.lead, 200),
        ("POST", "/admin/rules/new", rule_form(team_id=team), Role.lead, 303),
        ("POST", "/admin/rules/new", rule_form(team_id=team, intent="try"), Role.lead, 200),
        ("GET", f"/admin/rules/{w.rule_id}", None, Role.lead, 200),
        ("POST", f"/admin/rules/{w.rule_id}", rule_form(team_id=team), Role.lead, 303),
        ("POST", f"/admin/rules/{w.rule_id}/move", {"direction": "down"}, Role.lead, 303),
        ("POST", f"/admin/rules/{w.rule_id}/apply", {"days": "30"}, Role.lead, 200),
        ("GET", f"/admin/rules/{w.rule_id}/delete", None, Role.lead, 200),
        ("POST", f"/admin/rules/{w.rule_id}/delete", {}, Role.lead, 303),
        ("GET", "/admin/teams", None, Role.lead, 200),
        ("POST", "/admin/teams", {"name": "Growth"}, Role.admin, 303),
        ("POST", f"/admin/teams/{team}/members", {"user_ids": [str(w.user_id)]}, Role.admin,
         303),
        ("GET", "/admin/users", None, Role.admin, 200),
        ("POST", "/admin/users", {"email": "cy@cestia.example", "password": PASSWORD,
                                  "role": "viewer"}, Role.admin, 303),
        ("POST", f"/admin/users/{w.user_id}/role", {"role": "lead"}, Role.admin, 303),
        ("POST", f"/admin/users/{w.user_id}/active", {"active": "false"}, Role.admin, 303),
    ]  # fmt: skip


@pytest.mark.parametrize("role", list(Role))
async def test_roles(client: httpx.AsyncClient, db: Database, world: World, role: Role) -> None:
    """Every admin route for one role, in an order where each call leaves the next valid."""
    csrf = await sign_in(client, db.engine, role)
    wrong = []
    for method, path, form, least, allowed in routes(world):
        data = None if form is None else {**form, "csrf_token": csrf}
        response = await client.request(method, path, data=data)
        expected = allowed if role.allows(least) else 403
        if response.status_code != expected:
            wrong.append((method, path, response.status_code, expected, response.text[:200]))
        elif expected == 403:
            assert response.headers["content-type"].startswith("text/html")  # a page, not JSON
            assert f"You need the {least.value} role" in response.text
    assert wrong == []


@pytest.mark.parametrize("token", ["", "forged"])
async def test_posts_without_the_session_csrf_token_change_nothing(
    client: httpx.AsyncClient, db: Database, world: World, token: str
) -> None:
    await sign_in(client, db.engine, Role.admin)
    before = snapshot(db)
    for method, path, form, _least, _allowed in routes(world):
        if method == "POST":
            response = await client.post(path, data={**(form or {}), "csrf_token": token})
            assert response.status_code == 403, path
            assert "form expired" in response.json()["error"]["message"]
    assert snapshot(db) == before


async def test_signed_out_people_are_sent_to_sign_in(
    client: httpx.AsyncClient, world: World
) -> None:
    for method, path, form, _least, _allowed in routes(world):
        response = await client.request(method, path, data=form)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=/admin")


@pytest.mark.parametrize("role", list(Role))
async def test_the_admin_link_shows_for_leads_and_admins(
    client: httpx.AsyncClient, db: Database, role: Role
) -> None:
    await sign_in(client, db.engine, role)
    page = await client.get("/feedback")
    assert ('href="/admin/rules"' in page.text) == role.allows(Role.lead)


# ---- routing rules ------------------------------------------------------------------------


async def test_create_a_rule_with_every_condition(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    form = rule_form(
        csrf_token=csrf, sentiments=["negative", "neutral"], score_types=["csat"],
        nps_max="6", thumbs_max="0", csat_min="1", csat_max="2", topics=["billing"],
        channels=["review", "ticket"],
        source_kinds=["zendesk"], sources=["app-store"], languages=["es", "pt"],
        segments="enterprise, smb", attributes="plan = pro, team\nregion = emea",
        keywords="refund\ncharged twice", team_id=str(world.team_id),
        assignee_id=str(world.user_id), strategy="none", sla_hours="12.5",
    )  # fmt: skip
    response = await client.post("/admin/rules/new", data=form)
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/admin/rules?done=created")
    rule = stored_rules(db)[-1]
    assert (rule.name, rule.position, rule.priority, rule.sla_hours) == (
        "Angry enterprise",
        2,
        "high",
        12.5,
    )
    assert (rule.team_id, rule.assignee_id, rule.enabled) == (world.team_id, world.user_id, True)
    assert rule.conditions == {
        "sentiments": ["negative", "neutral"],
        "scores": [
            {"score_type": "nps", "max": 6},
            {"score_type": "csat", "min": 1, "max": 2},
            {"score_type": "thumbs", "max": 0},
        ],
        "topics": ["billing"],
        "source_kinds": ["zendesk"],
        "sources": ["app-store"],
        "channels": ["review", "ticket"],
        "languages": ["es", "pt"],
        "segments": ["enterprise", "smb"],
        "attributes": {"plan": ["pro", "team"], "region": ["emea"]},
        "keywords": ["refund", "charged twice"],
    }
    listing = (await client.get("/admin/rules?done=created")).text
    assert "Rule created." in listing
    for words in (
        "sentiment is negative or neutral",
        "score is NPS ≤ 6 or CSAT 1-2 or thumbs down",
        "channel is review or ticket",
        "customer plan is pro or team",
        "mentions “refund” or “charged twice”",
        "Bo in team Billing",
        "12.5 h",
    ):
        assert words in listing, words  # fmt: skip
    edit = (await client.get(f"/admin/rules/{rule.id}")).text
    assert 'name="nps_max" value="6"' in edit and 'value="ticket" checked' in edit
    assert "plan = pro, team\nregion = emea</textarea>" in edit


async def test_edit_a_rule(client: httpx.AsyncClient, db: Database, world: World) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    form = rule_form(csrf_token=csrf, name="Refunds, fast", team_id=str(world.team_id),
                     strategy="least_loaded", priority="urgent", enabled="",
                     keywords="refund\nmoney back")  # fmt: skip
    response = await client.post(f"/admin/rules/{world.rule_id}", data=form)
    assert response.status_code == 303, response.text
    (rule,) = stored_rules(db)
    assert (rule.name, rule.strategy, rule.priority, rule.enabled, rule.position) == (
        "Refunds, fast",
        "least_loaded",
        "urgent",
        False,
        1,
    )
    assert rule.conditions == {"keywords": ["refund", "money back"]}
    listing = (await client.get("/admin/rules")).text
    assert "disabled" in listing and "team Billing, least loaded team member" in listing


async def test_reorder_rules_with_up_and_down(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    for name in ("Second", "Third"):
        form = rule_form(csrf_token=csrf, name=name, team_id=str(world.team_id))
        assert (await client.post("/admin/rules/new", data=form)).status_code == 303
    third = stored_rules(db)[2].id
    moved = await client.post(f"/admin/rules/{third}/move",
                              data={"csrf_token": csrf, "direction": "up"})  # fmt: skip
    assert moved.status_code == 303 and moved.headers["location"].endswith(f"#rule-{third}")
    assert [r.name for r in stored_rules(db)] == ["Refunds", "Third", "Second"]
    down = {"csrf_token": csrf, "direction": "down"}
    await client.post(f"/admin/rules/{world.rule_id}/move", data=down)
    assert [r.name for r in stored_rules(db)] == ["Third", "Refunds", "Second"]
    assert [r.position for r in stored_rules(db)] == [1, 2, 3]
    last = stored_rules(db)[-1].id
    await client.post(f"/admin/rules/{last}/move", data=down)  # already last: stays
    assert [r.name for r in stored_rules(db)] == ["Third", "Refunds", "Second"]
    listing = (await client.get("/admin/rules")).text
    assert listing.index("Third") < listing.index("Refunds") < listing.index("Second")


async def test_delete_a_rule_after_confirming(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    confirm = await client.get(f"/admin/rules/{world.rule_id}/delete")
    assert "Delete the rule “Refunds”?" in confirm.text
    assert "mentions “refund”" in confirm.text and "team Billing" in confirm.text
    assert f'action="/admin/rules/{world.rule_id}/delete"' in confirm.text
    assert stored_rules(db)  # asking deletes nothing
    done = await client.post(f"/admin/rules/{world.rule_id}/delete", data={"csrf_token": csrf})
    assert done.status_code == 303
    assert stored_rules(db) == []
    gone = await client.get(f"/admin/rules/{world.rule_id}")
    assert gone.status_code == 404


async def test_try_a_rule_shows_matches_escaped_and_saves_nothing(
    client: httpx.AsyncClient, db: Database, world: World, auth: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    items = [
        item(text="<script>alert(1)</script> I want a refund", created_at=now - timedelta(days=2)),
        item(text="Refund please & quickly", score=9, created_at=now - timedelta(days=1)),
        item(text="All good here", created_at=now - timedelta(days=1)),
        item(text="An old refund", created_at=now - timedelta(days=45)),  # before the 30 days
    ]
    items = [{**i, "created_at": i["created_at"].isoformat()} for i in items]
    stored = await client.post("/api/v1/feedback", json={"items": items}, headers=auth)
    assert stored.json()["created"] == 4
    csrf = await sign_in(client, db.engine, Role.lead)
    form = rule_form(csrf_token=csrf, intent="try", keywords="refund", nps_max="6",
                     team_id=str(world.team_id))  # fmt: skip
    tried = await client.post("/admin/rules/new", data=form)
    assert tried.status_code == 200
    assert re.search(r"<strong>1</strong> of the last 3 items", tried.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; I want a refund" in tried.text
    assert "<script>alert" not in tried.text
    assert "nps 3; keyword &#34;refund&#34;" in tried.text
    assert 'name="keywords"' in tried.text and ">refund</textarea>" in tried.text  # kept
    assert len(stored_rules(db)) == 1  # only the world's
    broad = await client.post("/admin/rules/new", data={**form, "nps_max": ""})
    assert re.search(r"<strong>2</strong> of the last 3 items", broad.text)
    newest_first = broad.text.index("Refund please") < broad.text.index("I want a refund")
    assert newest_first and "An old refund" not in broad.text
    edit = await client.post(f"/admin/rules/{world.rule_id}", data=form)
    assert edit.status_code == 200 and "Tried on recent feedback" in edit.text
    assert stored_rules(db)[0].conditions == {"keywords": ["refund"]}  # unchanged


async def test_a_refused_rule_form_keeps_the_input_and_says_why(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    csrf = await sign_in(client, db.engine, Role.lead)
    form = rule_form(csrf_token=csrf, name="  ", sla_hours="soon", nps_min="11",
                     attributes="plan pro", keywords="<b>late</b>", segments="vip",
                     channels=["review"])  # fmt: skip
    response = await client.post("/admin/rules/new", data=form)
    assert response.status_code == 422
    page = response.text
    assert 'role="alert"' in page and "The rule was not saved" in page
    assert "Name: String should have at least 1 character" in page
    assert "SLA hours: give a number of hours" in page
    assert "Scores: nps scores run 0-10" in page
    assert "Customer attributes: write each as: name = value, value" in page
    assert 'name="sla_hours" value="soon"' in page and 'name="nps_min" value="11"' in page
    assert "&lt;b&gt;late&lt;/b&gt;</textarea>" in page and 'value="vip"' in page
    assert 'value="review" checked' in page
    emptied = rule_form(csrf_token=csrf, team_id=str(world.team_id), sla_hours="")
    emptied_page = (await client.post("/admin/rules/new", data=emptied)).text
    assert "SLA hours: give a number of hours" in emptied_page  # not silently the default
    no_owner = await client.post("/admin/rules/new", data=rule_form(csrf_token=csrf))
    assert no_owner.status_code == 422
    assert "Goes to: a rule sends feedback to a team, a person, or both" in no_owner.text
    robin = rule_form(csrf_token=csrf, assignee_id=str(world.user_id), strategy="round_robin")
    refused = await client.post("/admin/rules/new", data=robin)
    assert "round-robin and least-loaded pick within a team" in refused.text
    assert len(stored_rules(db)) == 1


# ---- teams --------------------------------------------------------------------------------


async def test_create_a_team_and_set_its_members(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    csrf = await sign_in(client, db.engine, Role.admin)
    made = await client.post("/admin/teams", data={"csrf_token": csrf, "name": "<i>Growth</i>",
                                                   "description": "new customers"})  # fmt: skip
    assert made.status_code == 303
    with session_scope(db.engine) as session:
        growth = session.exec(select(Team).where(Team.name == "<i>Growth</i>")).one()
        admin = session.exec(select(User).where(User.role == "admin")).one()
    members = {"csrf_token": csrf, "user_ids": [str(world.user_id), str(admin.id)]}
    done = await client.post(f"/admin/teams/{growth.id}/members", data=members)
    assert done.status_code == 303
    assert member_ids(db, growth.id) == {world.user_id, admin.id}
    await client.post(f"/admin/teams/{growth.id}/members",
                      data={"csrf_token": csrf, "user_ids": [str(admin.id)]})  # fmt: skip
    assert member_ids(db, growth.id) == {admin.id}
    await client.post(f"/admin/teams/{growth.id}/members", data={"csrf_token": csrf})
    assert member_ids(db, growth.id) == set()
    page = (await client.get("/admin/teams")).text
    assert "&lt;i&gt;Growth&lt;/i&gt;" in page and "<i>Growth" not in page
    twice = await client.post("/admin/teams", data={"csrf_token": csrf, "name": "Billing",
                                                    "description": "again"})  # fmt: skip
    assert twice.status_code == 409
    assert "a team named &#39;Billing&#39; already exists" in twice.text
    assert 'name="description" value="again"' in twice.text


async def test_leads_read_teams_without_forms(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    with session_scope(db.engine) as session:
        session.add(TeamMember(team_id=world.team_id, user_id=world.user_id))
    await sign_in(client, db.engine, Role.lead)
    page = (await client.get("/admin/teams")).text
    assert "Billing" in page and "bo@cestia.example" in page
    assert '<form method="post" action="/admin/teams' not in page
    assert 'href="/admin/users"' not in page  # leads do not see the users tab


# ---- users --------------------------------------------------------------------------------


async def test_create_a_user_change_role_deactivate_and_reactivate(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.admin)
    new = {"csrf_token": csrf, "email": "Dee@Cestia.example", "name": "<b>Dee</b>",
           "role": "viewer", "password": PASSWORD}  # fmt: skip
    assert (await client.post("/admin/users", data=new)).status_code == 303
    dee = user_row(db, "dee@cestia.example")
    assert (dee.name, dee.role, dee.active) == ("<b>Dee</b>", "viewer", True)
    page = (await client.get("/admin/users")).text
    assert "&lt;b&gt;Dee&lt;/b&gt;" in page and "<b>Dee" not in page

    # Dee signs in elsewhere; deactivating her ends that session.
    other = httpx.AsyncClient(transport=client._transport, base_url="http://hub.test")
    async with other:
        form = await other.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        await other.post("/login", data={"email": "dee@cestia.example", "password": PASSWORD,
                                         "csrf_token": token.group(1)})  # fmt: skip
        assert (await other.get("/feedback")).status_code == 200
        role = await client.post(f"/admin/users/{dee.id}/role",
                                 data={"csrf_token": csrf, "role": "lead"})  # fmt: skip
        assert role.status_code == 303
        assert user_row(db, "dee@cestia.example").role == "lead"
        off = await client.post(f"/admin/users/{dee.id}/active",
                                data={"csrf_token": csrf, "active": "false"})  # fmt: skip
        assert off.status_code == 303
        assert user_row(db, "dee@cestia.example").active is False
        assert sessions_of(db, dee.id) == 0
        assert (await other.get("/feedback")).headers["location"].startswith("/login")
    on = await client.post(f"/admin/users/{dee.id}/active",
                           data={"csrf_token": csrf, "active": "true"})  # fmt: skip
    assert on.status_code == 303
    assert user_row(db, "dee@cestia.example").active is True


async def test_a_refused_new_user_keeps_the_input(client: httpx.AsyncClient, db: Database) -> None:
    csrf = await sign_in(client, db.engine, Role.admin)
    short = {"csrf_token": csrf, "email": "eve@cestia.example", "name": "Eve", "role": "lead",
             "password": "short"}  # fmt: skip
    response = await client.post("/admin/users", data=short)
    assert response.status_code == 422
    assert "password: String should have at least 10 characters" in response.text
    assert 'value="eve@cestia.example"' in response.text
    assert 'value="lead" selected' in response.text
    assert "short" not in re.findall(r'name="password"[^>]*', response.text)[0]
    taken = await client.post("/admin/users", data={**short, "email": "admin@cestia.example",
                                                     "password": PASSWORD})  # fmt: skip
    assert taken.status_code == 409 and "already exists" in taken.text
    bad = await client.post("/admin/users", data={**short, "email": "not an email",
                                                   "password": PASSWORD})  # fmt: skip
    assert bad.status_code == 422 and "email" in bad.text
    assert find_user(db, "eve@cestia.example") is None


async def test_the_last_admin_cannot_be_demoted_or_deactivated(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.admin)
    me = user_row(db, "admin@cestia.example")
    for action, data in (("role", {"role": "lead"}), ("active", {"active": "false"})):
        response = await client.post(f"/admin/users/{me.id}/{action}",
                                     data={"csrf_token": csrf, **data})  # fmt: skip
        assert response.status_code == 422
        assert 'role="alert"' in response.text
        assert "this is the last active admin: make another admin first" in response.text
        assert f'id="user-{me.id}" class="refused"' in response.text
    me = user_row(db, "admin@cestia.example")
    assert (me.role, me.active) == ("admin", True)
    # With a second admin, the first may step down, and lands outside the admin pages.
    other = {"csrf_token": csrf, "email": "ida@cestia.example", "role": "admin",
             "password": PASSWORD}  # fmt: skip
    await client.post("/admin/users", data=other)
    down = await client.post(f"/admin/users/{me.id}/role", data={"csrf_token": csrf,
                                                                 "role": "lead"})  # fmt: skip
    assert (down.status_code, down.headers["location"]) == (303, "/feedback")
    assert (await client.get("/admin/users")).status_code == 403


# ---- helpers ------------------------------------------------------------------------------


def stored_rules(db: Database) -> list[RoutingRule]:
    with session_scope(db.engine) as session:
        rules = session.exec(select(RoutingRule).order_by(col(RoutingRule.position))).all()
        session.expunge_all()
        return list(rules)


def member_ids(db: Database, team_id: int | None) -> set[int]:
    with session_scope(db.engine) as session:
        return set(
            session.exec(select(TeamMember.user_id).where(TeamMember.team_id == team_id)).all()
        )


def find_user(db: Database, email: str) -> User | None:
    with session_scope(db.engine) as session:
        user = session.exec(select(User).where(User.email == email)).first()
        if user is not None:
            session.expunge(user)
        return user


def user_row(db: Database, email: str) -> User:
    user = find_user(db, email)
    assert user is not None, email
    return user


def sessions_of(db: Database, user_id: int | None) -> int:
    with session_scope(db.engine) as session:
        return len(session.exec(select(UserSession).where(UserSession.user_id == user_id)).all())


def snapshot(db: Database) -> tuple[Any, ...]:
    """Everything the admin forms change."""
    with session_scope(db.engine) as session:
        rules = [
            (r.id, r.name, r.position, r.conditions)
            for r in session.exec(select(RoutingRule).order_by(col(RoutingRule.id)))
        ]
        teams = session.exec(select(Team.name).order_by(col(Team.name))).all()
        members = session.exec(select(TeamMember.team_id, TeamMember.user_id)).all()
        users = session.exec(select(User.email, User.role, User.active)
                             .order_by(col(User.email))).all()  # fmt: skip
        return (rules, list(teams), sorted(members), list(users))  # fmt: skip
