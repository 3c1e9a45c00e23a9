"""Hostile values are refused precisely (4xx naming where), the same on SQLite and PostgreSQL:
NUL anywhere, ids beyond BIGINT, dates near years 1 and 9999, non-integer scores, PATCH nulls."""

from typing import Any

import httpx
import pytest

from hub.auth.service import create_key
from hub.store.engine import session_scope
from tests.conftest import Database
from tests.factories import item
from tests.surveys.conftest import ORIGIN, make_survey

pytestmark = pytest.mark.anyio
TOO_BIG = 2**63


@pytest.fixture
def keys(db: Database) -> dict[str, str]:
    with session_scope(db.engine) as session:
        key = create_key(session, name="all", scopes=["ingest", "read", "admin"]).key
    return {"Authorization": f"Bearer {key}"}


# (method, url, request arguments, the `loc` the 422 must name)
NUL_REQUESTS: dict[str, tuple[str, str, dict[str, Any], list[str | int]]] = {
    "item text": ("POST", "/api/v1/feedback", {"json": item(text="a\x00b")}, ["body", "text"]),
    "customer attribute": (
        "POST",
        "/api/v1/feedback",
        {"json": item(customer={"ref": "c", "attributes": {"plan": "\x00"}})},
        ["body", "customer", "attributes", "plan"],
    ),
    "raw NUL byte": (
        "POST",
        "/api/v1/feedback",
        {"content": b'{"text": "a\x00"}', "headers": {"Content-Type": "application/json"}},
        ["body"],
    ),
    "query filter": ("GET", "/api/v1/feedback", {"params": {"q": "a\x00"}}, ["query", "q"]),
    "customer filter": (
        "GET",
        "/api/v1/feedback",
        {"params": {"customer": "\x00"}},
        ["query", "customer"],
    ),
    "metric filter": (
        "GET",
        "/api/v1/metrics/nps",
        {"params": {"source": "s\x00"}},
        ["query", "source"],
    ),
    "topic path": ("PATCH", "/api/v1/topics/a%00b", {"json": {"name": "x"}}, ["path"]),
    "source path": ("GET", "/api/v1/sources/a%00b", {}, ["path"]),
    "new topic": (
        "POST",
        "/api/v1/topics",
        {"json": {"key": "ab", "name": "N\x00"}},
        ["body", "name"],
    ),
    "sign-in form": (
        "POST",
        "/login",
        {"data": {"email": "a@b.c\x00", "password": "x"}},
        ["body", "email"],
    ),
    "widget config": (
        "GET",
        "/api/v1/widget/config",
        {"params": {"key": "pk_\x00"}},
        ["query", "key"],
    ),
    "widget response": (
        "POST",
        "/api/v1/responses",
        {"json": {"key": "pk_x", "score": 9, "comment": "\x00"}, "headers": {"Origin": ORIGIN}},
        ["body", "comment"],
    ),
    "webhook path": ("POST", "/api/v1/webhooks/a%00", {"json": {}}, ["path"]),
    "webhook body": (
        "POST",
        "/api/v1/webhooks/typeform",
        {"json": {"form_response": "\x00"}},
        ["body", "form_response"],
    ),
}


@pytest.mark.parametrize("case", NUL_REQUESTS)
async def test_nul_is_refused_naming_where(
    case: str, client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    method, url, arguments, loc = NUL_REQUESTS[case]
    headers = {**keys, **arguments.pop("headers", {})}
    response = await client.request(method, url, headers=headers, **arguments)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["details"][0]["loc"] == loc
    assert "NUL" in error["message"]


async def test_an_escaped_backslash_before_u0000_is_text_not_nul(
    client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    response = await client.post("/api/v1/feedback", json=item(text="C:\\u0000"), headers=keys)
    assert response.status_code == 201, response.text
    assert response.json()["text"] == "C:\\u0000"


ID_PATHS = [
    ("GET", "/api/v1/feedback/{}"),
    ("PATCH", "/api/v1/feedback/{}/sentiment"),
    ("POST", "/api/v1/feedback/{}/topics"),
    ("GET", "/api/v1/cases/{}"),
    ("POST", "/api/v1/cases/{}/notes"),
    ("GET", "/api/v1/customers/{}"),
    ("PUT", "/api/v1/routing/rules/{}"),
    ("DELETE", "/api/v1/routing/rules/{}"),
    ("PATCH", "/api/v1/users/{}"),
    ("PUT", "/api/v1/teams/{}/members"),
    ("GET", "/api/v1/surveys/{}"),
    ("PATCH", "/api/v1/surveys/{}"),
]


@pytest.mark.parametrize("value", [TOO_BIG, 10**30, 0, -1])
@pytest.mark.parametrize(("method", "path"), ID_PATHS)
async def test_ids_out_of_range_are_422(
    method: str, path: str, value: int, client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    response = await client.request(method, path.format(value), headers=keys, json={})
    assert response.status_code == 422, response.text
    assert "id" in response.text


async def test_the_largest_id_is_a_plain_404(
    client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    response = await client.get(f"/api/v1/feedback/{TOO_BIG - 1}", headers=keys)
    assert response.status_code == 404, response.text


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("PUT", "/api/v1/teams/1/members", [TOO_BIG]),
        ("PUT", "/api/v1/routing/rules/order", [1, TOO_BIG]),
        ("POST", "/api/v1/routing/rules", {"name": "r", "team_id": TOO_BIG}),
        ("POST", "/api/v1/cases/1/assign", {"assignee_id": TOO_BIG}),
    ],
)
async def test_ids_in_bodies_out_of_range_are_422(
    method: str, url: str, body: Any, client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    response = await client.request(method, url, json=body, headers=keys)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/v1/metrics/nps", {"from": "0001-01-01", "to": "0001-01-07"}),
        ("/api/v1/metrics/csat", {"to": "0001-01-03"}),
        ("/api/v1/metrics/nps", {"from": "9999-12-25", "to": "9999-12-31"}),
        ("/api/v1/metrics/sentiment", {"from": "9999-12-31", "interval": "month"}),
        ("/api/v1/topics/trends", {"baseline_from": "0001-01-01", "baseline_to": "0001-01-02"}),
        ("/api/v1/feedback", {"since": "9999-12-31T23:59:59-14:00"}),
        ("/api/v1/feedback", {"until": "0001-01-01T00:00:00+14:00"}),
    ],
)
async def test_dates_near_the_calendar_edges_are_422(
    url: str, params: dict[str, str], client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    response = await client.get(url, params=params, headers=keys)
    assert response.status_code == 422, response.text
    assert "must be between 1900-01-01 and 9000-12-31" in response.text


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"score": true}', "whole number"),
        (b'{"score": 9.0}', "whole number"),
        (b'{"score": 1e400}', "out of range"),
        (b'{"score": 18446744073709551616}', "out of range"),
        (b'{"created_at": "0001-01-01T00:00:00+01:00"}', "before 1900"),
    ],
)
async def test_numbers_that_do_not_fit_are_refused_not_coerced(
    body: bytes, words: str, client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    base = httpx.Request("POST", "/", json=item()).content[:-1]
    headers = {**keys, "Content-Type": "application/json"}
    response = await client.post(
        "/api/v1/feedback", content=base + b"," + body[1:], headers=headers
    )
    assert response.status_code == 422, response.text
    assert words in response.text


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/topics/billing", {"name": None}, "name"),
        ("/api/v1/topics/billing", {"active": None}, "active"),
        ("/api/v1/topics/billing", {"examples": None}, "examples"),
        ("/api/v1/users/1", {"role": None}, "role"),
        ("/api/v1/sources/anything", {"enabled": None}, "enabled"),
        ("/api/v1/surveys/1", {"name": None}, "name"),
        ("/api/v1/topics/billing/accept", {"name": None}, "name"),
    ],
)
async def test_patch_null_for_a_field_that_cannot_be_null_is_422(
    url: str, body: dict[str, Any], field: str, client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    await client.post("/api/v1/topics", json={"key": "billing", "name": "Billing"}, headers=keys)
    method = "POST" if url.endswith("/accept") else "PATCH"
    response = await client.request(method, url, json=body, headers=keys)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["loc"] == ["body", field]


@pytest.mark.parametrize("body", [None, [], "x", 5])
async def test_patch_body_that_is_not_an_object_is_422(
    body: Any, client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    await client.post("/api/v1/topics", json={"key": "billing", "name": "Billing"}, headers=keys)
    response = await client.patch("/api/v1/topics/billing", json=body, headers=keys)
    assert response.status_code == 422, response.text


async def test_patch_null_where_it_means_something_is_applied(
    client: httpx.AsyncClient, keys: dict[str, str], db: Database
) -> None:
    await client.post("/api/v1/topics", json={"key": "money", "name": "Money"}, headers=keys)
    created = await client.post(
        "/api/v1/topics",
        json={"key": "billing", "name": "Billing", "parent": "money", "owner_team": "ops"},
        headers=keys,
    )
    assert created.status_code == 201, created.text
    cleared = await client.patch(
        "/api/v1/topics/billing", json={"parent": None, "owner_team": None}, headers=keys
    )
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["parent"], cleared.json()["owner_team"]) == (None, None)
    survey = make_survey(db, rate_limit_per_minute=5)
    reset = await client.patch(
        f"/api/v1/surveys/{survey.id}", json={"rate_limit_per_minute": None}, headers=keys
    )
    assert reset.status_code == 200, reset.text
    assert reset.json()["rate_limit_per_minute"] is None


async def test_a_nul_in_one_batch_item_rejects_that_item_alone(
    client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    good, bad = item(), item(title="\x00")
    response = await client.post("/api/v1/feedback", headers=keys, json={"items": [good, bad]})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results[0]["status"] == "created"
    assert results[1]["status"] == "rejected"
    assert "NUL" in str(results[1])
