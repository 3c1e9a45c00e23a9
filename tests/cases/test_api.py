"""The cases JSON API on both backends: the queue, one case, the actions, and who may do what."""

import base64
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from hub.app import create_app
from hub.auth.service import create_key
from hub.cases.models import Case, Status
from hub.cases.service import open_case
from hub.config import Settings
from hub.feedback.models import Feedback
from hub.notifications.models import OutboxMessage
from hub.routing.models import Priority, Strategy
from hub.store.engine import session_scope
from hub.store.types import utcnow
from hub.topics.models import FeedbackTopic, Topic
from hub.users.models import Role, TeamMember, User
from tests.cases.test_service import (
    Member,
    a_case,
    load,
    load_all,
    person,
    store,
    team_of,
    trail,
)
from tests.conftest import Database
from tests.factories import item
from tests.signin import sign_in

pytestmark = pytest.mark.anyio
CASES = "/api/v1/cases"


def bearer(db: Database, *scopes: str) -> dict[str, str]:
    """Headers with a fresh API key of these scopes."""
    with session_scope(db.engine) as session:
        return {"Authorization": f"Bearer {create_key(session, name='k', scopes=scopes).key}"}


async def signed_in(client: httpx.AsyncClient, db: Database, role: Role) -> tuple[dict, int]:
    """Sign ``client`` in with ``role``: the CSRF header for unsafe requests, and the user id."""
    csrf = await sign_in(client, db.engine, role)
    with session_scope(db.engine) as session:
        user = session.exec(select(User).where(User.email == f"{role.value}@cestia.example")).one()
        assert user.id is not None
        return {"X-CSRF-Token": csrf}, user.id


def queued(
    db: Database,
    *,
    team: int | None,
    assignee: int | None = None,
    status: Status = Status.new,
    priority: Priority = Priority.normal,
    due_in: float = 48,
    near_breach: bool = False,
    language: str | None = None,
    sentiment: str | None = None,
    topic: str | None = None,
    **item_fields: Any,
) -> int:
    """A case in a given state, opened the way routing opens them, then set up directly."""
    [feedback_id] = store(db, item(**item_fields))
    with session_scope(db.engine) as session:
        feedback = session.get(Feedback, feedback_id)
        assert feedback is not None
        feedback.language, feedback.sentiment = language, sentiment
        case = open_case(
            session, settings=Settings(), feedback_id=feedback_id, team_id=team,
            assignee_id=assignee, strategy=Strategy.none, priority=priority, sla_hours=due_in,
            rule_id=None, actor="system",
        )  # fmt: skip
        case.status = status.value
        if status in (Status.resolved, Status.closed):
            case.resolved_at = utcnow()
        if near_breach:
            case.sla_warn_at = utcnow() - timedelta(minutes=1)
        if topic is not None:
            found = session.exec(select(Topic).where(Topic.key == topic)).first()
            found = found or Topic(key=topic, name=topic.title())
            session.add(found)
            session.flush()
            assert found.id is not None
            session.add(FeedbackTopic(feedback_id=feedback_id, topic_id=found.id, confidence=0.9))
        assert case.id is not None
        return case.id


def a_queue(db: Database, ana: int | None = None) -> dict[str, int]:
    """Six cases across two teams (four open), by name; ``ana`` can be a signed-in agent."""
    support, [bo] = team_of(db, "Support", Member())
    billing, [cy] = team_of(db, "Billing", Member())
    ana = ana or person(db, name="Ana")
    with session_scope(db.engine) as session:
        session.add(TeamMember(team_id=support, user_id=ana))
    return {
        "late": queued(db, team=support, assignee=bo, status=Status.in_progress,
                       priority=Priority.urgent, due_in=-1, language="es", sentiment="negative",
                       source="web", text="La entrega llegó tarde"),
        "soon": queued(db, team=billing, assignee=cy, status=Status.waiting_on_customer,
                       due_in=1, near_breach=True, language="pt", sentiment="neutral",
                       text="Cobrança duplicada"),
        "mine": queued(db, team=support, assignee=ana, status=Status.assigned,
                       priority=Priority.high, due_in=2, language="en", sentiment="negative",
                       topic="billing", source="app", text="Charged twice"),
        "queue": queued(db, team=support, priority=Priority.low, due_in=72, language="en",
                        sentiment="positive", text="Would love dark mode"),
        "done": queued(db, team=support, assignee=ana, status=Status.resolved, due_in=3),
        "shut": queued(db, team=billing, assignee=cy, status=Status.closed, due_in=4),
    }  # fmt: skip


def names(page: dict[str, Any], cases: dict[str, int]) -> list[str]:
    """The names of a page's cases, in order."""
    by_id = {case_id: name for name, case_id in cases.items()}
    return [by_id[case["id"]] for case in page["items"]]


async def get_ok(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def reader(db: Database) -> dict[str, str]:
    return bearer(db, "read")


@pytest.fixture
def admin_key(db: Database) -> dict[str, str]:
    return bearer(db, "admin")


@pytest.fixture
async def mailing_client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that emails (SMTP configured; nothing is sent in these tests)."""
    settings = Settings(database_url=db.url, smtp_host="smtp.example.test")
    transport = httpx.ASGITransport(app=create_app(settings, engine=db.engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        yield http


# The queue


async def test_the_queue_shows_open_cases_soonest_due_first_with_counts(
    client: httpx.AsyncClient, db: Database, reader: dict[str, str]
) -> None:
    cases = a_queue(db)
    page = await get_ok(client, CASES, reader)
    assert names(page, cases) == ["late", "soon", "mine", "queue"]
    assert page["next_cursor"] is None
    assert page["counts"] == {
        "new": 1, "assigned": 1, "in_progress": 1, "waiting_on_customer": 1, "resolved": 1,
        "closed": 1,
    }  # fmt: skip
    late, soon, mine, queue = page["items"]
    assert (late["team"], late["assignee"], late["sla_state"]) == ("Support", "agent 1", "breached")
    assert (soon["sla_state"], mine["sla_state"], queue["sla_state"]) == ("near_breach", "ok", "ok")
    assert (mine["status"], mine["priority"]) == ("assigned", "high")
    assert mine["summary"] == "Charged twice"
    assert (queue["assignee_id"], queue["assignee"]) == (None, None)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=resolved&status=closed", ["done", "shut"]),
        ("status=new", ["queue"]),
        ("priority=urgent", ["late"]),
        ("priority=low", ["queue"]),
        ("sla=breached", ["late"]),
        ("sla=near_breach", ["soon"]),
        ("sla=ok", ["mine", "queue"]),
        ("topic=billing", ["mine"]),
        ("topic=delivery", []),
        ("source=web", ["late"]),
        ("sentiment=negative", ["late", "mine"]),
        ("language=pt", ["soon"]),
        ("language=en&sentiment=positive", ["queue"]),
        ("scope=all", ["late", "soon", "mine", "queue"]),
    ],
)
async def test_the_queue_filters(
    client: httpx.AsyncClient, db: Database, reader: dict[str, str], query: str, expected: list[str]
) -> None:
    cases = a_queue(db)
    page = await get_ok(client, f"{CASES}?{query}", reader)
    assert names(page, cases) == expected


async def test_counts_follow_every_filter_but_status(
    client: httpx.AsyncClient, db: Database, reader: dict[str, str]
) -> None:
    a_queue(db)
    page = await get_ok(client, f"{CASES}?status=resolved&sentiment=negative", reader)
    assert page["items"] == []
    assert {status: n for status, n in page["counts"].items() if n} == {
        "in_progress": 1, "assigned": 1,
    }  # fmt: skip


async def test_mine_and_team_are_the_signed_in_persons(
    client: httpx.AsyncClient, db: Database
) -> None:
    _csrf, me = await signed_in(client, db, Role.agent)
    cases = a_queue(db, ana=me)
    assert names(await get_ok(client, f"{CASES}?scope=mine", {}), cases) == ["mine"]
    every = await get_ok(client, f"{CASES}?scope=mine&status=resolved&status=assigned", {})
    assert names(every, cases) == ["mine", "done"]
    assert names(await get_ok(client, f"{CASES}?scope=team", {}), cases) == [
        "late", "mine", "queue",
    ]  # fmt: skip


@pytest.mark.parametrize("scope", ["mine", "team"])
async def test_a_key_has_no_cases_of_its_own(
    client: httpx.AsyncClient, db: Database, reader: dict[str, str], scope: str
) -> None:
    a_queue(db)
    response = await client.get(f"{CASES}?scope={scope}", headers=reader)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"
    assert "signed-in" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("due", ["late", "soon", "mine", "queue"]),
        ("newest", ["queue", "mine", "soon", "late"]),
        ("oldest", ["late", "soon", "mine", "queue"]),
        ("priority", ["late", "mine", "soon", "queue"]),
    ],
)
async def test_the_queue_sorts(
    client: httpx.AsyncClient, db: Database, reader: dict[str, str], sort: str, expected: list[str]
) -> None:
    cases = a_queue(db)
    assert names(await get_ok(client, f"{CASES}?sort={sort}", reader), cases) == expected


async def test_cursor_paging_walks_the_whole_queue_once(
    client: httpx.AsyncClient, db: Database, reader: dict[str, str]
) -> None:
    cases = a_queue(db)
    seen: list[str] = []
    url = f"{CASES}?status=new&status=assigned&status=in_progress&status=waiting_on_customer"
    url += "&status=resolved&status=closed&sort=oldest&limit=4"
    page = await get_ok(client, url, reader)
    seen += names(page, cases)
    assert len(seen) == 4 and page["next_cursor"] is not None
    page = await get_ok(client, f"{url}&cursor={page['next_cursor']}", reader)
    seen += names(page, cases)
    assert page["next_cursor"] is None
    assert seen == list(cases)  # in the order they were opened
    assert sum(page["counts"].values()) == 6


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("status=open", "validation_error"),
        ("priority=critical", "validation_error"),
        ("sla=late", "validation_error"),
        ("scope=everyone", "validation_error"),
        ("sort=random", "validation_error"),
        ("limit=0", "validation_error"),
        ("limit=201", "validation_error"),
        ("limit=ten", "validation_error"),
        ("cursor=not-a-cursor", "invalid_input"),
        (f"cursor={b64('-5')}", "invalid_input"),
        (f"cursor={b64('9' * 30)}", "invalid_input"),  # the database cannot take that offset
    ],
)
async def test_bad_query_values_are_422(
    client: httpx.AsyncClient, db: Database, reader: dict[str, str], query: str, code: str
) -> None:
    response = await client.get(f"{CASES}?{query}", headers=reader)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


# One case


async def test_a_case_shows_its_feedback_trail_and_the_customers_other_feedback(
    client: httpx.AsyncClient, db: Database, reader: dict[str, str]
) -> None:
    older, other = store(
        db,
        item(text="First complaint", created_at="2026-10-01T10:00:00Z"),
        item(text="Someone else", customer={"ref": "cus_9", "email": "zoe@example.com"}),
    )
    case_id, team = a_case(db, text="Late again", created_at="2026-11-02T10:00:00Z")
    [newer] = store(db, item(text="Still waiting", created_at="2026-11-03T10:00:00Z"))
    headers, me = await signed_in(client, db, Role.lead)
    noted = await client.post(f"{CASES}/{case_id}/notes", json={"body": "On it"}, headers=headers)
    assert noted.status_code == 200, noted.text
    detail = await get_ok(client, f"{CASES}/{case_id}", reader)
    assert (detail["id"], detail["team_id"], detail["team"]) == (case_id, team, "Team 1")
    assert detail["feedback"]["text"] == "Late again"
    assert detail["feedback"]["customer"]["ref"] == "cus_1"
    assert [f["id"] for f in detail["customer_history"]] == [newer, older]  # not `other`
    assert other not in {f["id"] for f in detail["customer_history"]}
    created, note = detail["events"]
    assert (created["kind"], created["actor_name"]) == ("created", None)
    assert created["actor"].startswith("rule:")
    assert created["after"]["team_id"] == team
    assert (note["kind"], note["body"], note["actor"]) == ("commented", "On it", f"user:{me}")
    assert note["actor_name"] == "lead"
    assert noted.json()["events"] == detail["events"]  # actions answer with the case


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "", None),
        ("POST", "/assign", {"team_id": None}),
        ("POST", "/transition", {"status": "closed"}),
        ("POST", "/notes", {"body": "x"}),
        ("POST", "/reply", {"body": "x"}),
    ],
)
async def test_an_unknown_case_is_404(
    client: httpx.AsyncClient, db: Database, admin_key: dict[str, str], method: str, path: str,
    body: Any,
) -> None:  # fmt: skip
    response = await client.request(method, f"{CASES}/4242{path}", json=body, headers=admin_key)
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "no case with id 4242", "details": None}
    }


async def test_a_case_id_must_be_a_number(
    client: httpx.AsyncClient, db: Database, reader: dict[str, str]
) -> None:
    response = await client.get(f"{CASES}/abc", headers=reader)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


# Actions


async def test_the_lifecycle_through_the_api(
    client: httpx.AsyncClient, db: Database, admin_key: dict[str, str]
) -> None:
    case_id, team = a_case(db)
    ana = person(db, name="Ana")
    url = f"{CASES}/{case_id}"
    given = await client.post(f"{url}/assign", json={"assignee_id": ana}, headers=admin_key)
    assert given.status_code == 200, given.text
    assert (given.json()["status"], given.json()["assignee"]) == ("assigned", "Ana")
    for status in ("in_progress", "waiting_on_customer", "resolved", "closed", "assigned"):
        moved = await client.post(f"{url}/transition", json={"status": status}, headers=admin_key)
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == status
    case = load(db, case_id)
    assert (case.status, case.resolved_at, case.closed_at, case.team_id) == (
        "assigned", None, None, team,
    )  # fmt: skip
    key_actor = trail(db, case_id)[-1].actor
    assert key_actor.startswith("key:")


async def test_priority_changes_are_on_the_trail(
    client: httpx.AsyncClient, db: Database, admin_key: dict[str, str]
) -> None:
    case_id, _ = a_case(db)
    url = f"{CASES}/{case_id}/priority"
    changed = await client.post(url, json={"priority": "urgent"}, headers=admin_key)
    assert changed.status_code == 200, changed.text
    assert changed.json()["priority"] == "urgent"
    again = await client.post(url, json={"priority": "urgent"}, headers=admin_key)
    assert again.status_code == 200
    event = trail(db, case_id)[-1]
    assert (event.kind, event.after) == ("priority_changed", {"priority": "urgent"})
    assert len([e for e in trail(db, case_id) if e.kind == "priority_changed"]) == 1
    refused = await client.post(url, json={"priority": "asap"}, headers=admin_key)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["loc"] == ["body", "priority"]


async def test_a_forbidden_move_is_refused_with_a_precise_error(
    client: httpx.AsyncClient, db: Database, admin_key: dict[str, str]
) -> None:
    case_id, _ = a_case(db)
    response = await client.post(
        f"{CASES}/{case_id}/transition", json={"status": "waiting_on_customer"}, headers=admin_key
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "invalid_input",
            "message": "a new case can move to assigned, closed, in_progress, resolved, "
            "not waiting_on_customer",
            "details": {
                "status": "new",
                "requested": "waiting_on_customer",
                "allowed": ["assigned", "closed", "in_progress", "resolved"],
            },
        }
    }
    assert load(db, case_id).status == "new"
    unknown = await client.post(
        f"{CASES}/{case_id}/transition", json={"status": "done"}, headers=admin_key
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"][0]["loc"] == ["body", "status"]


async def test_assign_changes_only_what_it_is_given(
    client: httpx.AsyncClient, db: Database, admin_key: dict[str, str]
) -> None:
    case_id, team = a_case(db)
    ana = person(db)
    url = f"{CASES}/{case_id}/assign"
    await client.post(url, json={"assignee_id": ana}, headers=admin_key)
    assert (load(db, case_id).assignee_id, load(db, case_id).team_id) == (ana, team)
    await client.post(url, json={"team_id": None}, headers=admin_key)
    assert (load(db, case_id).assignee_id, load(db, case_id).team_id) == (ana, None)
    await client.post(url, json={"assignee_id": None}, headers=admin_key)
    case = load(db, case_id)
    assert (case.assignee_id, case.team_id, case.status) == (None, None, "new")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"team_id": 9999}, "no team with id 9999"),
        ({"assignee_id": 9999}, "user 9999 cannot take cases (unknown, inactive or viewer)"),
    ],
)
async def test_assigning_to_someone_or_a_team_that_does_not_exist_is_422(
    client: httpx.AsyncClient, db: Database, admin_key: dict[str, str], body: Any, message: str
) -> None:
    case_id, team = a_case(db)
    response = await client.post(f"{CASES}/{case_id}/assign", json=body, headers=admin_key)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["message"], error["details"]) == ("invalid_input", message, None)
    assert (load(db, case_id).team_id, len(trail(db, case_id))) == (team, 1)


async def test_a_reply_is_queued_as_an_email_to_the_customer(
    mailing_client: httpx.AsyncClient, db: Database
) -> None:
    case_id, _ = a_case(db)
    headers, me = await signed_in(mailing_client, db, Role.agent)
    with session_scope(db.engine) as session:  # the agent's own case
        session.get(Case, case_id).assignee_id = me  # type: ignore[union-attr]
    response = await mailing_client.post(
        f"{CASES}/{case_id}/reply", json={"body": "Refund sent.", "subject": "Re: order"},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["first_response_at"] is not None
    reply = response.json()["events"][-1]
    assert (reply["kind"], reply["actor"], reply["body"]) == (
        "replied_to_customer", f"user:{me}", "Refund sent.",
    )  # fmt: skip
    assert reply["after"] == {
        "delivery": "email", "sent": True, "to": "ana@example.com", "subject": "Re: order",
    }  # fmt: skip
    [email] = load_all(db, OutboxMessage)
    assert (email.channel, email.destination, email.subject, email.case_id) == (
        "email", "ana@example.com", "Re: order", case_id,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/notes", {"body": ""}, ["body", "body"]),
        ("/reply", {"body": "x" * 10_001}, ["body", "body"]),
        ("/reply", {"body": "ok", "subject": "s" * 301}, ["body", "subject"]),
        ("/transition", {"status": "resolved", "resolution": "r" * 5001}, ["body", "resolution"]),
        ("/assign", {"assignee_id": "ana"}, ["body", "assignee_id"]),
    ],
)
async def test_bad_action_bodies_are_422(
    client: httpx.AsyncClient, db: Database, admin_key: dict[str, str], path: str, body: Any,
    loc: list[str],
) -> None:  # fmt: skip
    case_id, _ = a_case(db)
    response = await client.post(f"{CASES}/{case_id}{path}", json=body, headers=admin_key)
    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["error"]["details"]] == [loc]
    assert len(trail(db, case_id)) == 1


# Who may do what

PRINCIPALS = [
    "anonymous", "key:read", "key:admin", "viewer", "agent:own", "agent:team", "agent:other",
    "lead", "admin",
]  # fmt: skip
READ = dict.fromkeys(PRINCIPALS, 200) | {"anonymous": 401}
WORK = READ | {"key:read": 403, "viewer": 403, "agent:other": 403}
ROUTES: dict[str, tuple[str, str, dict[str, Any] | None, dict[str, int]]] = {
    "list": ("GET", "", None, READ),
    "get": ("GET", "/{id}", None, READ),
    "assign": ("POST", "/{id}/assign", {"team_id": None}, WORK),
    "transition": ("POST", "/{id}/transition", {"status": "in_progress"}, WORK),
    "priority": ("POST", "/{id}/priority", {"priority": "high"}, WORK),
    "notes": ("POST", "/{id}/notes", {"body": "Checked the logs."}, WORK),
    "reply": ("POST", "/{id}/reply", {"body": "We are on it."}, WORK),
}
ERROR_CODES = {401: "unauthorized", 403: "forbidden"}


async def credentials(
    client: httpx.AsyncClient, db: Database, who: str
) -> tuple[dict[str, str], int | None, str | None]:
    """Headers for ``who`` (a session's cookie stays in ``client``), their user id if they are
    a person, and how the trail names them."""
    kind, _, scope = who.partition(":")
    if kind == "anonymous":
        return {}, None, None
    if kind == "key":
        with session_scope(db.engine) as session:
            key = create_key(session, name="k", scopes=[scope])
        return {"Authorization": f"Bearer {key.key}"}, None, f"key:{key.id}"
    headers, user_id = await signed_in(client, db, Role(kind))
    return headers, user_id, f"user:{user_id}"


@pytest.mark.parametrize("who", PRINCIPALS)
async def test_access(client: httpx.AsyncClient, db: Database, who: str) -> None:
    """One row of the matrix: for each route, the status ``who`` gets, with the error code
    when refused, or who the trail says changed the case."""
    headers, me, actor = await credentials(client, db, who)
    support, [owner] = team_of(db, "Support", Member())
    if who == "agent:team":
        assert me is not None
        with session_scope(db.engine) as session:
            session.add(TeamMember(team_id=support, user_id=me))
    got, expected = {}, {}
    for route, (method, path, body, statuses) in ROUTES.items():
        assignee = me if who == "agent:own" else owner
        case_id = queued(db, team=support, assignee=assignee, status=Status.assigned)
        url = CASES + path.format(id=case_id)
        response = await client.request(method, url, json=body, headers=headers)
        events = trail(db, case_id)[2:]  # after "created" and "assigned"
        if response.status_code >= 400:
            got[route] = (response.status_code, response.json()["error"]["code"], len(events))
        else:
            got[route] = (response.status_code, events[-1].actor if events else None, len(events))
        status = statuses[who]
        changed_by = actor if method == "POST" else None
        expected[route] = (status, ERROR_CODES[status] if status >= 400 else changed_by,
                           1 if changed_by and status < 400 else 0)  # fmt: skip
    assert got == expected


@pytest.mark.parametrize("token", [None, "wrong"], ids=["missing", "wrong"])
async def test_a_persons_changes_need_the_csrf_token(
    client: httpx.AsyncClient, db: Database, token: str | None
) -> None:
    await signed_in(client, db, Role.lead)
    headers = {"X-CSRF-Token": token} if token else {}
    for route in ("assign", "transition", "notes", "reply"):
        case_id, _ = a_case(db)
        _method, path, body, _statuses = ROUTES[route]
        response = await client.post(CASES + path.format(id=case_id), json=body, headers=headers)
        assert response.status_code == 403, route
        assert response.json()["error"] == {
            "code": "forbidden", "message": "missing or wrong X-CSRF-Token header", "details": None,
        }  # fmt: skip
        assert len(trail(db, case_id)) == 1, route
