"""The feedback list as CSV, and the topic filter: every matching item, safe cells, UTF-8."""

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import select

from hub.app import create_app
from hub.auth.service import create_key
from hub.cases.models import Case
from hub.config import Settings
from hub.feedback.export import FEEDBACK_COLUMNS, feedback_rows
from hub.feedback.models import Feedback
from hub.feedback.queries import FeedbackFilters, list_feedback
from hub.store.engine import session_scope
from hub.topics.service import seed_topics, store_model_topics
from tests.conftest import Database
from tests.factories import item

pytestmark = pytest.mark.anyio
URL = "/api/v1/feedback"
FORMULA = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture
async def stored(client: httpx.AsyncClient, auth: dict, db: Database) -> dict[str, int]:
    """Seven items by name: sources, languages, topics, a case, and untrusted text."""
    items = {
        "charged": item(source="web", text="Charged twice", created_at="2026-11-01T09:00:00Z"),
        "formula": item(source="web", text=FORMULA, title="-1 star",
                        created_at="2026-11-02T09:00:00Z"),
        "entrega": item(source="app", text="Entrega rápida, ¡gracias!", customer=None,
                        created_at="2026-11-03T09:00:00Z", url="https://example.com/r/1"),
        "atendimento": item(source="app", text="Atendimento ótimo, não demorou",
                            created_at="2026-11-03T09:00:00Z", score_type="stars", score=5),
        "crash": item(source="app", text="App crashes", created_at="2026-11-04T09:00:00Z"),
        "refund": item(source="social", channel="social", score_type=None, score=None,
                       text="Where is my refund?", created_at="2026-11-04T09:00:00Z"),
        "late": item(source="social", channel="social", score_type=None, score=None,
                     text="Late again", created_at="2026-11-05T09:00:00Z"),
    }  # fmt: skip
    response = await client.post(URL, json={"items": list(items.values())}, headers=auth)
    assert response.json()["created"] == len(items)
    ids = dict(zip(items, (r["id"] for r in response.json()["results"]), strict=True))
    with session_scope(db.engine) as session:  # stands in for the NLP worker
        seed_topics(session)
        store_model_topics(session, assigned={
            ids["charged"]: [("billing", 0.9)],
            ids["formula"]: [("billing", 0.8), ("app_bugs", 0.6)],
            ids["refund"]: [("refunds_returns", 0.9), ("billing", 0.5)],
            ids["crash"]: [("app_bugs", 0.95)],
        })  # fmt: skip
        for name, language in [("entrega", "es"), ("atendimento", "pt"), ("charged", "en")]:
            session.execute(
                update(Feedback)
                .where(Feedback.id == ids[name])
                .values(language=language, sentiment="positive", sentiment_score=0.75)
            )
        session.add(Case(feedback_id=ids["charged"]))
    return ids


def rows_of(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))


async def csv_rows(client: httpx.AsyncClient, auth: dict, **params: str) -> list[dict[str, str]]:
    return rows_of(await client.get(URL, params={**params, "format": "csv"}, headers=auth))


async def every_page(client: httpx.AsyncClient, auth: dict, **params: str) -> list[dict[str, Any]]:
    """The JSON list followed to its end, two items a page."""
    items: list[dict[str, Any]] = []
    query: dict[str, str | int] = {**params, "limit": 2}
    while True:
        response = await client.get(URL, params=query, headers=auth)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        if not response.json()["next_cursor"]:
            return items
        query = {**params, "limit": 2, "cursor": response.json()["next_cursor"]}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"source": "app"},
        {"topic": "billing"},
        {"topic": "billing", "source": "web"},
        {"topic": "app_bugs", "q": "crash"},
        {"language": "es"},
        {"channel": "social", "since": "2026-11-05T00:00:00Z"},
        {"topic": "no_such_topic"},
    ],
)
async def test_csv_rows_are_the_json_list_over_all_pages(
    client: httpx.AsyncClient, auth: dict, stored: dict[str, int], params: dict[str, str]
) -> None:
    listed = await every_page(client, auth, **params)
    rows = await csv_rows(client, auth, **params)
    assert [int(row["id"]) for row in rows] == [entry["id"] for entry in listed]
    for row, entry in zip(rows, listed, strict=True):
        assert row["source"] == entry["source"]
        assert row["created_at"] == entry["created_at"].replace("Z", "+00:00")
        assert row["topics"] == "; ".join(topic["key"] for topic in entry["topics"])
        assert row["customer_ref"] == (entry["customer"] or {}).get("ref", "")
        assert row["text"].removeprefix("'") == entry["text"]


async def test_the_csv_has_every_column_and_the_case_of_an_item(
    client: httpx.AsyncClient, auth: dict, stored: dict[str, int], db: Database
) -> None:
    response = await client.get(URL, params={"format": "csv"}, headers=auth)
    assert response.content.decode().splitlines()[0] == ",".join(FEEDBACK_COLUMNS)
    assert response.headers["content-disposition"] == 'attachment; filename="feedback.csv"'
    by_id = {int(row["id"]): row for row in rows_of(response)}
    charged = by_id[stored["charged"]]
    with session_scope(db.engine) as session:
        case = session.exec(select(Case)).one()
    assert charged["case_id"] == str(case.id)
    assert (charged["language"], charged["sentiment"], charged["sentiment_score"]) == (
        "en", "positive", "0.75",
    )  # fmt: skip
    assert (charged["customer_ref"], charged["customer_email"], charged["customer_name"]) == (
        "cus_1", "ana@example.com", "Ana",
    )  # fmt: skip
    assert (charged["channel"], charged["score_type"], charged["score"]) == ("survey", "nps", "3")
    entrega = by_id[stored["entrega"]]
    assert (entrega["case_id"], entrega["customer_ref"]) == ("", "")
    assert entrega["url"] == "https://example.com/r/1"


async def test_a_formula_in_text_or_title_comes_out_as_text(
    client: httpx.AsyncClient, auth: dict, stored: dict[str, int]
) -> None:
    [row] = [r for r in await csv_rows(client, auth) if int(r["id"]) == stored["formula"]]
    assert row["text"] == "'" + FORMULA
    assert row["title"] == "'-1 star"


async def test_spanish_and_portuguese_round_trip_in_utf8(
    client: httpx.AsyncClient, auth: dict, stored: dict[str, int]
) -> None:
    response = await client.get(URL, params={"format": "csv", "source": "app"}, headers=auth)
    texts = {row["text"] for row in rows_of(response)}
    assert {"Entrega rápida, ¡gracias!", "Atendimento ótimo, não demorou"} <= texts
    assert "ótimo".encode() in response.content  # UTF-8 bytes, not Latin-1 or escapes


async def test_accept_text_csv_asks_for_csv_and_format_json_wins(
    client: httpx.AsyncClient, auth: dict, stored: dict[str, int]
) -> None:
    response = await client.get(URL, headers={**auth, "Accept": "text/csv"})
    assert len(rows_of(response)) == len(stored)
    response = await client.get(
        URL, params={"format": "json"}, headers={**auth, "Accept": "text/csv"}
    )
    assert len(response.json()["items"]) == len(stored)


async def test_csv_is_every_item_whatever_the_limit_and_cursor(
    client: httpx.AsyncClient, auth: dict, stored: dict[str, int]
) -> None:
    first = (await client.get(URL, params={"limit": 1}, headers=auth)).json()
    params = {"limit": "1", "cursor": first["next_cursor"]}
    assert len(await csv_rows(client, auth, **params)) == len(stored)


async def test_nothing_matching_is_the_header_alone(
    client: httpx.AsyncClient, auth: dict, stored: dict[str, int]
) -> None:
    response = await client.get(URL, params={"format": "csv", "q": "zzz"}, headers=auth)
    assert response.content.decode() == ",".join(FEEDBACK_COLUMNS) + "\n"


async def test_chunks_follow_the_cursor_without_losing_or_repeating_items(
    stored: dict[str, int], db: Database
) -> None:
    chunks = list(feedback_rows(db.engine, filters=FeedbackFilters(), max_rows=100, chunk=2))
    assert [len(chunk) for chunk in chunks] == [2, 2, 2, 1]
    with session_scope(db.engine) as session:
        page = list_feedback(session, filters=FeedbackFilters(), cursor=None, limit=100)
    assert [row["id"] for chunk in chunks for row in chunk] == [i.id for i in page.items]
    capped = list(feedback_rows(db.engine, filters=FeedbackFilters(), max_rows=3, chunk=2))
    assert [len(chunk) for chunk in capped] == [2, 1]


@pytest.fixture
async def capped_client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose exports hold at most three rows."""
    settings = Settings(database_url=db.url, export_max_rows=3)
    transport = httpx.ASGITransport(app=create_app(settings, engine=db.engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        yield http


async def test_more_rows_than_the_cap_is_a_422_that_says_so(
    capped_client: httpx.AsyncClient, auth: dict, stored: dict[str, int]
) -> None:
    response = await capped_client.get(URL, params={"format": "csv"}, headers=auth)
    assert response.status_code == 422
    assert "7 rows match" in response.json()["error"]["message"]
    assert "at most 3" in response.json()["error"]["message"]
    narrowed = await capped_client.get(
        URL, params={"format": "csv", "topic": "billing"}, headers=auth
    )
    assert len(rows_of(narrowed)) == 3
    listed = await capped_client.get(URL, headers=auth)  # the JSON list has no cap
    assert len(listed.json()["items"]) == 7


async def test_the_csv_needs_the_read_scope(
    client: httpx.AsyncClient, db: Database, stored: dict[str, int]
) -> None:
    assert (await client.get(URL, params={"format": "csv"})).status_code == 401
    with session_scope(db.engine) as session:
        ingest_only = create_key(session, name="pusher", scopes=["ingest"]).key
    response = await client.get(
        URL, params={"format": "csv"}, headers={"Authorization": f"Bearer {ingest_only}"}
    )
    assert response.status_code == 403
    assert "text/csv" not in response.headers["content-type"]


# The topic filter of the JSON list ----------------------------------------------------------


async def ids_listed(client: httpx.AsyncClient, auth: dict, **params: str) -> set[int]:
    response = await client.get(URL, params=params, headers=auth)
    assert response.status_code == 200, response.text
    return {entry["id"] for entry in response.json()["items"]}


async def test_the_topic_filter_lists_items_with_that_topic(
    client: httpx.AsyncClient, auth: dict, stored: dict[str, int]
) -> None:
    billing = {stored["charged"], stored["formula"], stored["refund"]}
    assert await ids_listed(client, auth, topic="billing") == billing
    assert await ids_listed(client, auth, topic="app_bugs") == {stored["formula"], stored["crash"]}
    assert await ids_listed(client, auth, topic="billing", source="social") == {stored["refund"]}
    assert await ids_listed(client, auth, topic="delivery") == set()  # a topic nobody has


async def test_an_unknown_topic_key_matches_nothing(
    client: httpx.AsyncClient, auth: dict, stored: dict[str, int]
) -> None:
    assert await ids_listed(client, auth, topic="no_such_topic") == set()
    assert await ids_listed(client, auth, topic="") == set(stored.values())  # empty: no filter
