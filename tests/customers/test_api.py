"""The customers API: at-risk ranking (JSON and CSV), one customer, errors and access."""

import csv
import io
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from hub.auth.service import create_key
from hub.customers.models import Customer
from hub.store.engine import session_scope
from hub.store.types import utcnow
from tests.conftest import Database
from tests.customers.builders import add, add_case

pytestmark = pytest.mark.anyio
AT_RISK = "/api/v1/customers/at-risk"


@pytest.fixture
def customers(db: Database) -> dict[str, int]:
    """Two customers at risk (one with an overdue case), one happy one; ids by ref."""
    now = utcnow()
    for days in (3, 2):
        add(db.engine, "ana", at=now - timedelta(days=days), score=("nps", 1), segment="smb",
            name="Ana Lima")  # fmt: skip
    upset = add(db.engine, "bo", at=now - timedelta(days=1), score=("csat", 1), segment="ent",
                name="=HYPERLINK(\"http://evil\")")  # fmt: skip
    add_case(db.engine, upset, due_at=now - timedelta(hours=2))
    add(db.engine, "cy", at=now - timedelta(days=1), score=("nps", 10))
    with session_scope(db.engine) as session:
        return {ref: id_ for ref, id_ in session.exec(select(Customer.external_ref, Customer.id))}


async def test_the_ranking_with_reasons(
    client: httpx.AsyncClient, auth: dict[str, str], customers: dict[str, int]
) -> None:
    response = await client.get(AT_RISK, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 2 and body["days"] == 30 and body["next_cursor"] is None
    first, second = body["items"]
    assert first["customer"]["ref"] == "ana" and first["score"] == 9
    assert [r["code"] for r in first["reasons"]] == ["detractor_score", "repeated_complaints"]
    assert first["reasons"][0] == {
        "code": "detractor_score", "count": 2, "weight": 6, "evidence": {"nps": 2},
        "text": "2 detractor scores in the last 30 days (2 NPS 0-6)",
    }  # fmt: skip
    assert second["customer"]["ref"] == "bo" and second["score"] == 7
    assert second["open_cases"] == 1 and second["last_feedback_at"] is not None
    assert {r["code"] for r in second["reasons"]} == {"detractor_score", "case_past_sla"}


async def test_filters_and_paging(
    client: httpx.AsyncClient, auth: dict[str, str], customers: dict[str, int]
) -> None:
    only_ent = (await client.get(AT_RISK, params={"segment": "ent"}, headers=auth)).json()
    assert [item["customer"]["ref"] for item in only_ent["items"]] == ["bo"]
    high = (await client.get(AT_RISK, params={"min_score": 8}, headers=auth)).json()
    assert [item["customer"]["ref"] for item in high["items"]] == ["ana"]
    first = (await client.get(AT_RISK, params={"limit": 1}, headers=auth)).json()
    assert [item["customer"]["ref"] for item in first["items"]] == ["ana"]
    rest = await client.get(
        AT_RISK, params={"limit": 1, "cursor": first["next_cursor"]}, headers=auth
    )
    assert [item["customer"]["ref"] for item in rest.json()["items"]] == ["bo"]
    assert rest.json()["next_cursor"] is None
    narrow = (await client.get(AT_RISK, params={"days": 1}, headers=auth)).json()
    assert [item["customer"]["ref"] for item in narrow["items"]] == ["bo"]


async def test_csv_holds_the_whole_ranking_and_is_safe(
    client: httpx.AsyncClient, auth: dict[str, str], customers: dict[str, int]
) -> None:
    response = await client.get(AT_RISK, params={"format": "csv", "limit": 1}, headers=auth)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="customers-at-risk.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["ref"] for row in rows] == ["ana", "bo"]
    assert rows[0]["score"] == "9" and rows[0]["name"] == "Ana Lima"
    assert rows[0]["reason_codes"] == "detractor_score; repeated_complaints"
    assert rows[1]["reasons"].startswith("1 detractor score in the last 30 days")
    assert rows[1]["name"] == '\'=HYPERLINK("http://evil")'  # never a formula
    by_accept = await client.get(AT_RISK, headers={**auth, "Accept": "text/csv"})
    assert by_accept.text == response.text


@pytest.mark.parametrize(
    "params",
    [{"days": 0}, {"days": 366}, {"days": "x"}, {"limit": 0}, {"limit": 201},
     {"min_score": 0}, {"format": "xml"}],
)  # fmt: skip
async def test_bad_parameters_are_422(
    client: httpx.AsyncClient, auth: dict[str, str], params: dict[str, object]
) -> None:
    response = await client.get(AT_RISK, params=params, headers=auth)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_a_forged_cursor_is_422(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await client.get(AT_RISK, params={"cursor": "nope"}, headers=auth)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["query", "cursor"]


async def test_one_customer_with_history_cases_scores_and_risk(
    client: httpx.AsyncClient, auth: dict[str, str], customers: dict[str, int]
) -> None:
    response = await client.get(f"/api/v1/customers/{customers['bo']}", headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customer"]["ref"] == "bo" and body["customer"]["segment"] == "ent"
    assert body["risk"]["score"] == 7 and body["risk"]["days"] == 30
    assert [case["status"] for case in body["cases"]] == ["new"]
    assert body["cases"][0]["sla_state"] == "breached"
    assert [(p["score_type"], p["score"]) for p in body["scores"]] == [("csat", 1)]
    assert len(body["feedback"]["items"]) == 1


async def test_the_history_is_newest_first_and_paged(
    client: httpx.AsyncClient, auth: dict[str, str], customers: dict[str, int]
) -> None:
    url = f"/api/v1/customers/{customers['ana']}"
    first = (await client.get(url, params={"limit": 1}, headers=auth)).json()
    second = (
        await client.get(url, params={"limit": 1, "cursor": first["feedback"]["next_cursor"]},
                         headers=auth)
    ).json()  # fmt: skip
    newest, older = first["feedback"]["items"][0], second["feedback"]["items"][0]
    assert newest["created_at"] > older["created_at"]
    assert second["feedback"]["next_cursor"] is None
    assert [p["at"] for p in first["scores"]] == sorted(p["at"] for p in first["scores"])


async def test_an_unknown_customer_is_404(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await client.get("/api/v1/customers/999999", headers=auth)
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "not_found", "message": "no customer with id 999999", "details": None,
    }  # fmt: skip
    assert (await client.get("/api/v1/customers/abc", headers=auth)).status_code == 422


async def test_the_read_scope_is_needed(
    client: httpx.AsyncClient, db: Database, customers: dict[str, int]
) -> None:
    for url in (AT_RISK, f"/api/v1/customers/{customers['ana']}"):
        assert (await client.get(url)).status_code == 401
    with session_scope(db.engine) as session:
        ingest_only = create_key(session, name="ingest", scopes=["ingest"]).key
    refused = await client.get(AT_RISK, headers={"Authorization": f"Bearer {ingest_only}"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
