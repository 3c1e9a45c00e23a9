"""The case queue as CSV through the API: the whole queue, in its order, and who sees what."""

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hub.app import create_app
from hub.cases.export import CASE_COLUMNS
from hub.config import Settings
from hub.users.models import Role
from tests.cases.test_api import CASES, a_queue, bearer, get_ok, signed_in
from tests.conftest import Database

pytestmark = pytest.mark.anyio
EVERY_STATUS = "&".join(
    f"status={s}"
    for s in ("new", "assigned", "in_progress", "waiting_on_customer", "resolved", "closed")
)


@pytest.fixture
def reader(db: Database) -> dict[str, str]:
    return bearer(db, "read")


def rows_of(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="cases.csv"'
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))


async def every_page(client: httpx.AsyncClient, query: str, headers: dict) -> list[dict[str, Any]]:
    """The JSON queue followed to its end, one case a page."""
    items: list[dict[str, Any]] = []
    page = await get_ok(client, f"{CASES}?{query}&limit=1", headers)
    items += page["items"]
    while page["next_cursor"]:
        page = await get_ok(
            client, f"{CASES}?{query}&limit=1&cursor={page['next_cursor']}", headers
        )
        items += page["items"]
    return items


@pytest.mark.parametrize(
    "query",
    [
        "sort=due",
        EVERY_STATUS,
        f"{EVERY_STATUS}&sort=newest",
        "sort=priority",
        "topic=billing",
        "sentiment=negative&sort=oldest",
        "sla=breached",
        "language=fr",
    ],
)
async def test_csv_rows_are_the_json_queue_over_all_pages(
    client: httpx.AsyncClient, db: Database, reader: dict[str, str], query: str
) -> None:
    a_queue(db)
    listed = await every_page(client, query, reader)
    rows = rows_of(await client.get(f"{CASES}?{query}&format=csv", headers=reader))
    assert [int(row["id"]) for row in rows] == [case["id"] for case in listed]
    for row, case in zip(rows, listed, strict=True):
        assert (row["status"], row["priority"], row["sla_state"]) == (
            case["status"], case["priority"], case["sla_state"],
        )  # fmt: skip
        assert (row["team"], row["assignee"]) == (case["team"] or "", case["assignee"] or "")
        assert row["feedback_id"] == str(case["feedback_id"])
        assert row["text"].startswith(case["summary"])


async def test_a_case_row_has_its_feedback(
    client: httpx.AsyncClient, db: Database, reader: dict[str, str]
) -> None:
    cases = a_queue(db)
    response = await client.get(f"{CASES}?format=csv", headers=reader)
    assert response.content.decode().splitlines()[0] == ",".join(CASE_COLUMNS)
    by_id = {int(row["id"]): row for row in rows_of(response)}
    late = by_id[cases["late"]]
    assert (late["team"], late["assignee"], late["priority"]) == ("Support", "agent 1", "urgent")
    assert (late["source"], late["sentiment"], late["score_type"], late["score"]) == (
        "web", "negative", "nps", "3",
    )  # fmt: skip
    assert late["text"] == "La entrega llegó tarde"
    assert late["due_at"] < late["created_at"]  # due an hour before it was opened: breached
    assert by_id[cases["soon"]]["text"] == "Cobrança duplicada"


async def test_mine_is_the_signed_in_persons_queue(client: httpx.AsyncClient, db: Database) -> None:
    _csrf, me = await signed_in(client, db, Role.agent)
    cases = a_queue(db, ana=me)
    query = f"scope=mine&{EVERY_STATUS}"
    rows = rows_of(await client.get(f"{CASES}?{query}&format=csv"))
    assert [int(row["id"]) for row in rows] == [cases["mine"], cases["done"]]
    team = rows_of(await client.get(f"{CASES}?scope=team&format=csv"))
    assert {int(row["id"]) for row in team} == {cases["late"], cases["mine"], cases["queue"]}


async def test_a_key_has_no_queue_of_its_own_in_csv_either(
    client: httpx.AsyncClient, db: Database, reader: dict[str, str]
) -> None:
    a_queue(db)
    response = await client.get(f"{CASES}?scope=mine&format=csv", headers=reader)
    assert response.status_code == 422
    assert "signed-in" in response.json()["error"]["message"]


async def test_the_csv_needs_the_read_scope(client: httpx.AsyncClient, db: Database) -> None:
    a_queue(db)
    assert (await client.get(f"{CASES}?format=csv")).status_code == 401
    response = await client.get(f"{CASES}?format=csv", headers=bearer(db, "ingest"))
    assert response.status_code == 403


@pytest.fixture
async def capped_client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose exports hold at most three rows."""
    settings = Settings(database_url=db.url, export_max_rows=3)
    transport = httpx.ASGITransport(app=create_app(settings, engine=db.engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        yield http


async def test_a_queue_longer_than_the_cap_is_a_422(
    capped_client: httpx.AsyncClient, db: Database, reader: dict[str, str]
) -> None:
    a_queue(db)
    response = await capped_client.get(f"{CASES}?format=csv", headers=reader)
    assert response.status_code == 422
    assert "4 rows match" in response.json()["error"]["message"]
    narrowed = await capped_client.get(f"{CASES}?format=csv&sentiment=negative", headers=reader)
    assert len(rows_of(narrowed)) == 2
