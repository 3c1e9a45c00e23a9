"""Reply templates on both backends: seeded on first start, CRUD with its 409s and 422s, who may
change them, and filling them in for a case (with polite fallbacks)."""

from typing import Any

import httpx
import pytest
from sqlmodel import select

from hub.cases.models import Case
from hub.macros.defaults import APOLOGY
from hub.macros.models import ReplyTemplate
from hub.macros.service import ensure_default_macros, fill
from hub.store.engine import session_scope
from hub.users.models import Role, Team
from tests.cases.test_api import bearer, signed_in
from tests.cases.test_service import a_case
from tests.conftest import Database

pytestmark = pytest.mark.anyio
MACROS = "/api/v1/macros"
NEW = {"name": "Refund done", "language": "en", "subject": "Case {case_id}",
       "body": "Hi {customer_name}, {team} refunded you. {agent_name}"}  # fmt: skip


def seeded(db: Database) -> list[ReplyTemplate]:
    with session_scope(db.engine) as session:
        ensure_default_macros(session)
        ensure_default_macros(session)  # a second start adds nothing
        return list(session.exec(select(ReplyTemplate)).all())


async def test_first_start_seeds_apology_looking_and_fixed_in_three_languages(
    client: httpx.AsyncClient, db: Database
) -> None:
    assert len(seeded(db)) == 9
    listed = await client.get(MACROS, params={"language": "es"}, headers=bearer(db, "read"))
    assert listed.status_code == 200
    assert [(m["name"], m["language"]) for m in listed.json()] == [
        ("Apology and offer", "es"), ("Fixed, please confirm", "es"),
        ("We're looking into it", "es"),
    ]  # fmt: skip


async def test_a_lead_creates_changes_and_deletes_a_template_and_an_agent_reads(
    client: httpx.AsyncClient, db: Database
) -> None:
    lead, _ = await signed_in(client, db, Role.lead)
    created = await client.post(MACROS, json=NEW, headers=lead)
    assert created.status_code == 201, created.text
    macro = created.json()
    assert {k: macro[k] for k in NEW} == NEW
    again = await client.post(MACROS, json=NEW, headers=lead)
    assert again.status_code == 409
    assert again.json()["error"]["details"] == {"id": macro["id"]}
    other = await client.post(MACROS, json={**NEW, "language": "pt"}, headers=lead)
    assert other.status_code == 201  # the same name in another language
    changed = await client.put(
        f"{MACROS}/{macro['id']}", json={**NEW, "body": "Done, {customer_name}."}, headers=lead
    )
    assert changed.status_code == 200 and changed.json()["body"] == "Done, {customer_name}."
    taken = await client.put(f"{MACROS}/{other.json()['id']}", json=NEW, headers=lead)
    assert taken.status_code == 409
    gone = await client.delete(f"{MACROS}/{macro['id']}", headers=lead)
    assert gone.status_code == 204
    assert (await client.get(f"{MACROS}/{macro['id']}", headers=lead)).status_code == 404
    assert (await client.delete(f"{MACROS}/{macro['id']}", headers=lead)).status_code == 404


async def test_agents_read_templates_but_do_not_change_them(
    client: httpx.AsyncClient, db: Database
) -> None:
    [first, *_] = seeded(db)
    agent, _ = await signed_in(client, db, Role.agent)
    assert (await client.get(f"{MACROS}/{first.id}", headers=agent)).status_code == 200
    assert (await client.post(MACROS, json=NEW, headers=agent)).status_code == 403
    refused = await client.delete(f"{MACROS}/{first.id}", headers=agent)
    assert refused.status_code == 403
    assert (await client.post(MACROS, json=NEW, headers=bearer(db, "read"))).status_code == 403


@pytest.mark.parametrize(
    ("change", "loc", "says"),
    [
        ({"body": "Hi {first_name}"}, ["body", "body"], "unknown placeholder {first_name}"),
        ({"subject": "Case {case_id:>5}"}, ["body", "subject"], "unknown placeholder"),
        ({"body": "Hi {customer_name!r}"}, ["body", "body"], "unknown placeholder"),
        ({"body": "Hi {customer_name"}, ["body", "body"], "literal brace"),
        ({"body": "Hi }"}, ["body", "body"], "literal brace"),
        ({"body": "  "}, ["body", "body"], "blank"),
        ({"name": ""}, ["body", "name"], ""),
        ({"language": "english"}, ["body", "language"], ""),
        ({"body": "nul \x00"}, ["body", "body"], "NUL"),
    ],
)
async def test_a_template_with_an_unknown_placeholder_is_a_422(
    client: httpx.AsyncClient, db: Database, change: dict[str, str], loc: list[str], says: str
) -> None:
    response = await client.post(MACROS, json={**NEW, **change}, headers=bearer(db, "admin"))
    assert response.status_code == 422, response.text
    [error] = response.json()["error"]["details"]
    assert error["loc"] == loc and says in error["message"]
    with session_scope(db.engine) as session:
        assert session.exec(select(ReplyTemplate)).all() == []


async def test_a_literal_brace_is_written_twice(client: httpx.AsyncClient, db: Database) -> None:
    body = {**NEW, "body": "Use code {{SAVE10}}, {customer_name}."}
    created = await client.post(MACROS, json=body, headers=bearer(db, "admin"))
    assert created.status_code == 201, created.text
    case_id, _ = a_case(db)
    filled = await client.get(f"{MACROS}/{created.json()['id']}/render",
                              params={"case_id": case_id}, headers=bearer(db, "read"))  # fmt: skip
    assert filled.json()["body"] == "Use code {SAVE10}, Ana."


async def test_rendering_fills_the_case_in_and_falls_back_politely(
    client: httpx.AsyncClient, db: Database
) -> None:
    by_key = {(m.name, m.language): m.id for m in seeded(db)}
    known, _ = a_case(db)  # Ana, in a team
    unknown, _ = a_case(db, customer=..., text="Cobraron dos veces")
    with session_scope(db.engine) as session:
        session.get(Case, unknown).team_id = None  # type: ignore[union-attr]
        team = session.get(Team, session.get(Case, known).team_id)  # type: ignore[union-attr]
        assert team is not None
        team_name = team.name
    agent, _ = await signed_in(client, db, Role.agent)

    async def render(name: str, language: str, case_id: int) -> dict[str, Any]:
        url = f"{MACROS}/{by_key[(name, language)]}/render"
        response = await client.get(url, params={"case_id": case_id}, headers=agent)
        assert response.status_code == 200, response.text
        return dict(response.json())

    en = await render(APOLOGY, "en", known)
    assert en["subject"] == f"We're sorry, and here is what we'll do (case {known})"
    assert en["body"].startswith("Hi Ana,\n\n")
    assert en["body"].endswith(f"\nagent\n{team_name}")  # the signed-in agent's name
    es = await render(APOLOGY, "es", unknown)
    assert es["body"].startswith("Hola, cliente:\n\n") and es["body"].endswith("\nSoporte")
    assert f"(caso {unknown})" in es["subject"]
    missing = await client.get(f"{MACROS}/{by_key[(APOLOGY, 'en')]}/render",
                               params={"case_id": 999_999}, headers=agent)  # fmt: skip
    assert missing.status_code == 404


def test_filling_a_template_saved_before_the_check_never_fails() -> None:
    assert fill("Hi {nobody} {", {"customer_name": "Ana"}) == "Hi {nobody} {"
