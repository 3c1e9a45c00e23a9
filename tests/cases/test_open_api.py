"""POST /api/v1/cases on both backends: a case for any item, its trail, 409 (concurrent requests
included), reopening, 404, 422."""

import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from hub.app import create_app
from hub.cases.models import Case, Status
from hub.cases.service import CaseExists, open_case_for_item
from hub.config import Settings
from hub.notifications.models import OutboxMessage
from hub.routing.models import Priority
from hub.store.engine import session_scope
from hub.users.models import Role
from tests.cases.test_api import bearer, signed_in
from tests.cases.test_service import (
    Member,
    load,
    load_all,
    move,
    person,
    store,
    team_of,
    trail,
)
from tests.conftest import Database
from tests.factories import item

pytestmark = pytest.mark.anyio


@pytest.fixture
async def mailing_client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that emails (SMTP configured; nothing is sent in these tests)."""
    settings = Settings(database_url=db.url, smtp_host="smtp.example.test")
    transport = httpx.ASGITransport(app=create_app(settings, engine=db.engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        yield http


CASES = "/api/v1/cases"


async def test_a_case_for_an_unscored_item_has_the_routed_trail_and_notice(
    mailing_client: httpx.AsyncClient, db: Database
) -> None:
    admin = bearer(db, "admin")
    team, [bo] = team_of(db, "Billing", Member())
    [feedback] = store(db, item(channel="social", score_type=None, score=None,
                                text="Charged twice AGAIN - please escalate"))  # fmt: skip
    body = {"feedback_id": feedback, "team_id": team, "assignee_id": bo, "priority": "urgent",
            "note": "Enterprise customer, call back today"}  # fmt: skip
    response = await mailing_client.post(CASES, json=body, headers=admin)
    assert response.status_code == 201, response.text
    case = response.json()
    assert (case["feedback_id"], case["team_id"], case["assignee_id"]) == (feedback, team, bo)
    assert (case["status"], case["priority"], case["sla_state"]) == ("assigned", "urgent", "ok")
    assert case["feedback"]["text"] == "Charged twice AGAIN - please escalate"
    events = trail(db, case["id"])
    assert [e.kind for e in events] == ["created", "assigned", "commented"]
    assert len({e.actor for e in events}) == 1 and events[0].actor.startswith("key:")
    assert events[0].after == {"team_id": team, "priority": "urgent",
                               "due_at": load(db, case["id"]).due_at.isoformat()}  # type: ignore[union-attr]  # fmt: skip
    assert events[1].after == {"assignee_id": bo, "status": "assigned"}
    assert events[2].body == "Enterprise customer, call back today"
    [notice] = load_all(db, OutboxMessage)
    assert (notice.event_type, notice.case_id, notice.destination) == (
        "case.created", case["id"], "p1@staff.example",
    )  # fmt: skip


async def test_a_second_case_for_the_same_item_is_a_409_naming_the_open_one(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = bearer(db, "admin")
    [feedback] = store(db, item())
    first = await client.post(CASES, json={"feedback_id": feedback}, headers=admin)
    assert first.status_code == 201
    assert (first.json()["status"], first.json()["priority"]) == ("new", "normal")
    again = await client.post(CASES, json={"feedback_id": feedback}, headers=admin)
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["code"] == "case_exists"
    assert f"#{first.json()['id']}" in error["message"]
    assert error["details"] == {"case_id": first.json()["id"], "status": "new"}
    assert len(trail(db, first.json()["id"])) == 1  # the refused request wrote nothing


async def test_an_item_whose_case_is_closed_gets_it_reopened(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = bearer(db, "admin")
    ana = person(db, name="Ana")
    [feedback] = store(db, item())
    opened = await client.post(CASES, json={"feedback_id": feedback, "assignee_id": ana},
                               headers=admin)  # fmt: skip
    case_id = opened.json()["id"]
    move(db, case_id, Status.closed, "refunded")
    body = {"feedback_id": feedback, "priority": "high", "note": "charged a third time"}
    again = await client.post(CASES, json=body, headers=admin)
    assert again.status_code == 201
    reopened = again.json()
    assert reopened["id"] == case_id
    assert (reopened["status"], reopened["assignee_id"], reopened["priority"]) == (
        "assigned", ana, "high",
    )  # fmt: skip
    assert reopened["closed_at"] is None and reopened["resolved_at"] is None
    kinds = [e.kind for e in trail(db, case_id)]
    assert kinds[-4:] == ["status_changed", "assigned", "priority_changed", "commented"]
    reopen = trail(db, case_id)[-4]
    assert reopen.before["status"] == "closed" and reopen.after["status"] == "new"  # type: ignore[index]


async def test_unknown_feedback_is_404_and_unknown_team_or_person_422(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = bearer(db, "admin")
    viewer = person(db, Role.viewer)
    [feedback] = store(db, item())
    missing = await client.post(CASES, json={"feedback_id": 999_999}, headers=admin)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no feedback with id 999999"
    for body, says in (
        ({"team_id": 777}, "no team with id 777"),
        ({"assignee_id": 888}, "user 888 cannot take cases"),
        ({"assignee_id": viewer}, f"user {viewer} cannot take cases"),
        ({"priority": "asap"}, "priority"),
        ({"colour": "red"}, "colour"),
    ):
        bad = await client.post(CASES, json={"feedback_id": feedback, **body}, headers=admin)
        assert bad.status_code == 422, body
        assert says in bad.json()["error"]["message"]
    assert load_all(db, OutboxMessage) == []


async def test_who_may_open_cases(client: httpx.AsyncClient, db: Database) -> None:
    [feedback] = store(db, item())
    reader = await client.post(CASES, json={"feedback_id": feedback}, headers=bearer(db, "read"))
    assert reader.status_code == 403
    csrf, _ = await signed_in(client, db, Role.viewer)
    viewer = await client.post(CASES, json={"feedback_id": feedback}, headers=csrf)
    assert viewer.status_code == 403
    no_token = await client.post(CASES, json={"feedback_id": feedback})
    assert no_token.status_code == 403  # signed in, but without the CSRF header


async def test_a_signed_in_agent_opens_one(client: httpx.AsyncClient, db: Database) -> None:
    csrf, agent = await signed_in(client, db, Role.agent)
    [feedback] = store(db, item())
    opened = await client.post(CASES, json={"feedback_id": feedback}, headers=csrf)
    assert opened.status_code == 201
    assert [e.actor for e in trail(db, opened.json()["id"])] == [f"user:{agent}"]


def test_concurrent_requests_for_one_item_open_one_case_and_name_it(db: Database) -> None:
    [feedback] = store(db, item())
    barrier = threading.Barrier(4)

    def open_one(_: int) -> str:
        barrier.wait()
        try:
            with session_scope(db.engine) as session:
                case = open_case_for_item(
                    session, settings=Settings(), feedback_id=feedback, team_id=None,
                    assignee_id=None, priority=Priority.normal, note=None, actor="key:1",
                )  # fmt: skip
                return f"opened #{case.id}"
        except CaseExists as exc:
            return f"exists #{exc.details['case_id']}"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(open_one, range(4)))
    [case] = load_all(db, Case)
    assert outcomes == [f"exists #{case.id}"] * 3 + [f"opened #{case.id}"]
    assert [e.kind for e in trail(db, case.id or 0)] == ["created"]
