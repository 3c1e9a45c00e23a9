"""Working a case on both backends: the status menu, replies that reached the customer or were
only drafted, and bulk changes with their refusals (service and JSON API)."""

from typing import Any

import httpx
import pytest

from hub.cases.models import Case, Status
from hub.cases.service import reply_to_customer
from hub.cases.status_menu import natural_next, status_choices
from hub.routing.models import Priority
from hub.store.engine import session_scope
from hub.users.models import Role
from tests.cases.test_api import a_queue, bearer, queued, signed_in
from tests.cases.test_service import (
    ACTOR,
    MAILING,
    SETTINGS,
    Member,
    a_case,
    act,
    force_status,
    load,
    team_of,
    trail,
)
from tests.conftest import Database

CASES = "/api/v1/cases"


# The status menu


@pytest.mark.parametrize(
    ("status", "assigned", "offered", "preselected"),
    [
        ("new", False, ["in_progress", "resolved"], "in_progress"),
        ("assigned", True, ["in_progress", "waiting_on_customer", "resolved", "new"],
         "in_progress"),
        ("in_progress", True, ["waiting_on_customer", "assigned", "resolved"],
         "waiting_on_customer"),
        ("waiting_on_customer", True, ["in_progress", "resolved"], "in_progress"),
        ("resolved", True, ["assigned"], "assigned"),
        ("closed", True, ["assigned"], "assigned"),
        ("closed", False, ["new"], "new"),
    ],
)  # fmt: skip
def test_the_status_menu_offers_the_sensible_moves_with_the_natural_one_first(
    status: str, assigned: bool, offered: list[str], preselected: str
) -> None:
    case = Case(feedback_id=1, status=status, assignee_id=7 if assigned else None)
    assert [s.value for s in status_choices(case)] == offered
    assert natural_next(case).value == preselected == offered[0]


# Replies


def assigned_case(db: Database) -> int:
    """A case assigned to someone (status assigned), whose customer has an email address."""
    team, [agent] = team_of(db, "Care", Member())
    return queued(db, team=team, assignee=agent, status=Status.assigned)


@pytest.mark.parametrize(
    ("settings", "by_hand", "delivery"),
    [(MAILING, False, "email"), (SETTINGS, True, "by_hand"), (MAILING, True, "email")],
    ids=["emailed", "sent-by-hand", "emailed-wins"],
)
def test_a_reply_that_reached_the_customer_is_the_first_response_and_waits_on_them(
    db: Database, settings: Any, by_hand: bool, delivery: str
) -> None:
    case_id = assigned_case(db)
    act(db, reply_to_customer, settings=settings, case_id=case_id, body="Refund sent.",
        subject=None, actor=ACTOR, sent_by_hand=by_hand)  # fmt: skip
    case = load(db, case_id)
    assert case.status == "waiting_on_customer" and case.first_response_at is not None
    *_, reply, moved = trail(db, case_id)
    assert (reply.kind, reply.after["delivery"], reply.after["sent"]) == (  # type: ignore[index]
        "replied_to_customer", delivery, True,
    )  # fmt: skip
    assert (moved.kind, moved.before, moved.after) == (
        "status_changed", {"status": "assigned"}, {"status": "waiting_on_customer"},
    )  # fmt: skip
    assert case.first_response_at <= reply.at


def test_a_recorded_draft_is_neither_a_response_nor_a_move(db: Database) -> None:
    case_id = assigned_case(db)
    act(db, reply_to_customer, settings=SETTINGS, case_id=case_id, body="Draft", subject=None,
        actor=ACTOR)  # fmt: skip
    case = load(db, case_id)
    assert (case.status, case.first_response_at) == ("assigned", None)
    assert trail(db, case_id)[-1].after["delivery"] == "manual"  # type: ignore[index]


def test_a_sent_reply_on_a_case_that_cannot_wait_keeps_its_status(db: Database) -> None:
    case_id, _ = a_case(db)  # new: it must be worked before it waits on the customer
    act(db, reply_to_customer, settings=SETTINGS, case_id=case_id, body="On it", subject=None,
        actor=ACTOR, sent_by_hand=True)  # fmt: skip
    case = load(db, case_id)
    assert case.status == "new" and case.first_response_at is not None
    assert [e.kind for e in trail(db, case_id)][-1] == "replied_to_customer"


@pytest.mark.anyio
async def test_the_api_marks_a_reply_sent_by_hand(client: httpx.AsyncClient, db: Database) -> None:
    case_id = assigned_case(db)
    admin = bearer(db, "admin")
    draft = await client.post(f"{CASES}/{case_id}/reply", json={"body": "Draft"}, headers=admin)
    assert draft.status_code == 200, draft.text
    assert (draft.json()["status"], draft.json()["first_response_at"]) == ("assigned", None)
    sent = await client.post(
        f"{CASES}/{case_id}/reply", json={"body": "Called them", "sent_by_hand": True},
        headers=admin,
    )  # fmt: skip
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert body["status"] == "waiting_on_customer" and body["first_response_at"] is not None
    assert [e["after"].get("delivery") for e in body["events"][-3:]] == ["manual", "by_hand", None]


# Bulk changes


@pytest.mark.anyio
async def test_an_agent_bulk_closes_their_cases_and_the_others_are_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    headers, ana = await signed_in(client, db, Role.agent)
    cases = a_queue(db, ana)  # ana is in Support; "soon" is Billing's
    ids = [cases["mine"], cases["queue"], cases["soon"], cases["shut"], 999_999]
    response = await client.post(
        f"{CASES}/bulk", json={"case_ids": ids, "action": "close", "resolution": "Refunded"},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["changed"] == [cases["mine"], cases["queue"]]
    assert result["unchanged"] == []
    assert [(r["case_id"], r["reason"]) for r in result["refused"]] == [
        (cases["soon"], "not_yours"), (cases["shut"], "not_yours"), (999_999, "not_found"),
    ]  # fmt: skip
    for case_id in (cases["mine"], cases["queue"]):
        case = load(db, case_id)
        assert (case.status, case.resolution) == ("closed", "Refunded")
        last = trail(db, case_id)[-1]
        assert (last.kind, last.actor, last.after) == (
            "status_changed", f"user:{ana}", {"status": "closed"},
        )  # fmt: skip
    assert load(db, cases["soon"]).status == "waiting_on_customer"


@pytest.mark.anyio
async def test_bulk_status_and_priority_check_each_case(
    client: httpx.AsyncClient, db: Database
) -> None:
    cases = a_queue(db)
    admin = bearer(db, "admin")
    moved = await client.post(
        f"{CASES}/bulk", headers=admin,
        json={"case_ids": [cases["late"], cases["queue"], cases["mine"]], "action": "status",
              "status": "waiting_on_customer"},
    )  # fmt: skip
    assert moved.status_code == 200, moved.text
    result = moved.json()
    assert result["changed"] == [cases["late"], cases["mine"]]
    [refused] = result["refused"]
    assert (refused["case_id"], refused["reason"]) == (cases["queue"], "not_allowed")
    assert refused["message"] == "a new case cannot move to waiting_on_customer"
    assert load(db, cases["queue"]).status == "new"
    urgent = await client.post(
        f"{CASES}/bulk", headers=admin,
        json={"case_ids": [cases["late"], cases["queue"]], "action": "priority",
              "priority": "urgent"},
    )  # fmt: skip
    assert urgent.json() == {"changed": [cases["queue"]], "unchanged": [cases["late"]],
                             "refused": []}  # fmt: skip
    assert load(db, cases["queue"]).priority == Priority.urgent.value
    assert trail(db, cases["queue"])[-1].after == {"priority": "urgent"}


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"case_ids": [1], "action": "close"}, ["body"]),
        ({"case_ids": [1], "action": "close", "resolution": ""}, ["body", "resolution"]),
        ({"case_ids": [1], "action": "status"}, ["body"]),
        ({"case_ids": [1], "action": "status", "status": "closed"}, ["body"]),
        ({"case_ids": [1], "action": "priority", "priority": "asap"}, ["body", "priority"]),
        ({"case_ids": [], "action": "priority", "priority": "low"}, ["body", "case_ids"]),
        ({"case_ids": [0], "action": "priority", "priority": "low"}, ["body", "case_ids", 0]),
        ({"case_ids": [1], "action": "delete"}, ["body", "action"]),
    ],
)
@pytest.mark.anyio
async def test_a_bulk_change_that_says_too_little_is_a_422(
    client: httpx.AsyncClient, db: Database, body: dict[str, Any], loc: list[Any]
) -> None:
    case_id, _ = a_case(db)
    force_status(db, case_id, Status.in_progress)
    response = await client.post(f"{CASES}/bulk", json=body, headers=bearer(db, "admin"))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["loc"] == loc
    assert len(trail(db, case_id)) == 1


@pytest.mark.anyio
async def test_viewers_and_read_keys_cannot_bulk_change(
    client: httpx.AsyncClient, db: Database
) -> None:
    case_id, _ = a_case(db)
    body = {"case_ids": [case_id], "action": "priority", "priority": "low"}
    response = await client.post(f"{CASES}/bulk", json=body, headers=bearer(db, "read"))
    assert response.status_code == 403
    with session_scope(db.engine) as session:
        assert session.get(Case, case_id).priority == "normal"  # type: ignore[union-attr]
