"""Listing: every filter, and cursor pagination that visits each item exactly once."""

import httpx
import pytest
from sqlalchemy import update

from hub.feedback.models import Feedback
from hub.store.engine import session_scope
from tests.factories import item

pytestmark = pytest.mark.anyio
URL = "/api/v1/feedback"


@pytest.fixture
async def stored(client: httpx.AsyncClient, auth: dict, db) -> list[dict]:  # type: ignore[no-untyped-def]
    """Six items differing in every filterable field."""
    items = [
        item(
            source="web",
            channel="survey",
            text="Charged twice on my card",
            created_at="2026-11-01T09:00:00Z",
            customer="cus_a",
        ),
        item(
            source="web",
            channel="survey",
            text="50% off promo_code failed",
            created_at="2026-11-02T09:00:00Z",
            customer="cus_b",
        ),
        item(
            source="app",
            channel="review",
            score_type="stars",
            score=1,
            title="CRASHES",
            text="App crashes on launch",
            created_at="2026-11-03T09:00:00Z",
            customer=None,
        ),
        item(
            source="app",
            channel="review",
            score_type="stars",
            score=5,
            text="Entrega rápida",
            created_at="2026-11-04T09:00:00Z",
            customer=None,
        ),
        item(
            source="social",
            channel="social",
            score_type=None,
            score=None,
            text="Atendimento ótimo",
            created_at="2026-11-05T09:00:00Z",
            customer="cus_a",
        ),
        item(
            source="social",
            channel="social",
            score_type=None,
            score=None,
            text="meh",
            created_at="2026-11-05T09:00:00Z",
            customer=None,
        ),
    ]
    response = await client.post(URL, json={"items": items}, headers=auth)
    assert response.json()["created"] == 6
    ids = [r["id"] for r in response.json()["results"]]
    with session_scope(db.engine) as session:  # stands in for the NLP worker's enrichment
        session.execute(
            update(Feedback)
            .where(Feedback.id.in_(ids[:2]))
            .values(language="en", sentiment="negative")
        )
        session.execute(
            update(Feedback)
            .where(Feedback.id == ids[3])
            .values(language="es", sentiment="positive")
        )
    return response.json()["results"]


async def _texts(client: httpx.AsyncClient, auth: dict, **params: str) -> list[str]:
    response = await client.get(URL, params=params, headers=auth)
    assert response.status_code == 200, response.text
    return [i["text"] for i in response.json()["items"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {},
            [
                "Atendimento ótimo",
                "meh",
                "Entrega rápida",
                "App crashes on launch",
                "50% off promo_code failed",
                "Charged twice on my card",
            ],
        ),
        ({"source": "app"}, ["Entrega rápida", "App crashes on launch"]),
        ({"channel": "social"}, ["Atendimento ótimo", "meh"]),
        ({"score_type": "stars"}, ["Entrega rápida", "App crashes on launch"]),
        ({"language": "es"}, ["Entrega rápida"]),
        ({"sentiment": "negative"}, ["50% off promo_code failed", "Charged twice on my card"]),
        ({"customer": "cus_a"}, ["Atendimento ótimo", "Charged twice on my card"]),
        ({"since": "2026-11-04T00:00:00Z"}, ["Atendimento ótimo", "meh", "Entrega rápida"]),
        ({"until": "2026-11-02T09:00:00Z"}, ["Charged twice on my card"]),
        (
            {"since": "2026-11-02", "until": "2026-11-04"},
            ["App crashes on launch", "50% off promo_code failed"],
        ),
        ({"q": "CHARGED"}, ["Charged twice on my card"]),
        ({"q": "crashes"}, ["App crashes on launch"]),
        ({"q": "50%"}, ["50% off promo_code failed"]),
        ({"q": "o_c"}, ["50% off promo_code failed"]),
        ({"q": "%"}, ["50% off promo_code failed"]),
        ({"q": "ótimo"}, ["Atendimento ótimo"]),
        ({"source": "app", "score_type": "stars", "q": "app"}, ["App crashes on launch"]),
        ({"source": "nowhere"}, []),
    ],
)
async def test_filters(
    client: httpx.AsyncClient, auth: dict, stored: list, params: dict, expected: list
) -> None:
    texts = await _texts(client, auth, **params)
    if params == {}:  # two items share a timestamp: the newer id comes first
        assert sorted(texts) == sorted(expected)
        assert texts[2:] == expected[2:]
    else:
        assert sorted(texts) == sorted(expected)
        assert len(texts) == len(expected)


async def test_cursor_pages_visit_every_item_once(
    client: httpx.AsyncClient, auth: dict, stored: list
) -> None:
    seen: list[int] = []
    params: dict[str, str | int] = {"limit": 4}
    pages = 0
    while True:
        page = (await client.get(URL, params=params, headers=auth)).json()
        seen += [i["id"] for i in page["items"]]
        pages += 1
        if not page["next_cursor"]:
            break
        params = {"limit": 4, "cursor": page["next_cursor"]}
    assert pages == 2
    assert sorted(seen) == sorted(r["id"] for r in stored)
    assert len(seen) == len(set(seen))


async def test_cursor_pages_with_limit_one_and_tied_timestamps(
    client: httpx.AsyncClient, auth: dict, stored: list
) -> None:
    seen = []
    cursor = None
    for _ in range(10):
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(URL, params=params, headers=auth)).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(r["id"] for r in stored)


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"cursor": "not-a-cursor"}, ["query", "cursor"]),
        ({"limit": 0}, ["query", "limit"]),
        ({"limit": 201}, ["query", "limit"]),
        ({"channel": "fax"}, ["query", "channel"]),
        ({"since": "last week"}, ["query", "since"]),
        ({"q": "x" * 201}, ["query", "q"]),
    ],
)
async def test_bad_query_parameters_are_422(
    client: httpx.AsyncClient, auth: dict, params: dict, loc: list
) -> None:
    response = await client.get(URL, params=params, headers=auth)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == loc
