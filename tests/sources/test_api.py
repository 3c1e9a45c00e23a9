"""The sources API: status without secrets, adding and changing sources, keys and scopes."""

import httpx
import pytest

from hub.auth.service import create_key
from hub.store.engine import session_scope
from tests.conftest import Database

pytestmark = pytest.mark.anyio
HN = {"kind": "hackernews", "name": "hn-cestia", "config": {"query": "cestia"}}
ZENDESK_SECRET = "zd-token-very-secret"


@pytest.fixture
def admin(db: Database) -> dict[str, str]:
    with session_scope(db.engine) as session:
        key = create_key(session, name="admin", scopes=["admin"]).key
    return {"Authorization": f"Bearer {key}"}


async def test_add_list_and_get_a_source(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    created = await client.post("/api/v1/sources", json=HN, headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["kind"], body["status"], body["collected"]) == ("hackernews", "never_run", True)
    assert body["config"]["query"] == "cestia"
    assert body["config"]["base_url"] == "https://hn.algolia.com/api/v1"  # the default is shown
    listed = await client.get("/api/v1/sources", headers=admin)
    assert [s["name"] for s in listed.json()] == ["hn-cestia"]
    detail = await client.get("/api/v1/sources/hn-cestia", headers=admin)
    assert detail.status_code == 200 and detail.json()["runs"] == []


async def test_secrets_are_never_shown_back(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    config = {"subdomain": "cestia", "email": "ops@cestia.example", "api_token": ZENDESK_SECRET}
    created = await client.post(
        "/api/v1/sources", json={"kind": "zendesk", "name": "zd", "config": config}, headers=admin
    )
    assert created.status_code == 201, created.text
    for response in (
        created,
        await client.get("/api/v1/sources", headers=admin),
        await client.get("/api/v1/sources/zd", headers=admin),
    ):
        assert ZENDESK_SECRET not in response.text
        assert "********" in response.text


async def test_bad_config_names_each_field(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    bad = {**HN, "config": {"query": "", "page_size": 5000, "surprise": 1}}
    response = await client.post("/api/v1/sources", json=bad, headers=admin)
    assert response.status_code == 422
    error = response.json()["error"]
    locs = {tuple(detail["loc"]) for detail in error["details"]}
    assert {("config", "query"), ("config", "page_size"), ("config", "surprise")} <= locs
    assert "invalid hackernews config" in error["message"]


async def test_unknown_kind_and_duplicate_name(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    unknown = await client.post("/api/v1/sources", json={**HN, "kind": "myspace"}, headers=admin)
    assert unknown.status_code == 422 and "no collector of kind 'myspace'" in unknown.text
    assert (await client.post("/api/v1/sources", json=HN, headers=admin)).status_code == 201
    again = await client.post("/api/v1/sources", json=HN, headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


async def test_disable_enable_and_run_now(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    await client.post("/api/v1/sources", json=HN, headers=admin)
    off = await client.patch("/api/v1/sources/hn-cestia", json={"enabled": False}, headers=admin)
    assert off.json()["status"] == "disabled" and off.json()["next_run_at"] is None
    on = await client.patch(
        "/api/v1/sources/hn-cestia", json={"enabled": True, "interval_seconds": 3600},
        headers=admin,
    )  # fmt: skip
    assert on.json()["status"] == "never_run" and on.json()["interval_seconds"] == 3600
    run = await client.post("/api/v1/sources/hn-cestia/run", headers=admin)
    assert run.status_code == 202 and run.json()["next_run_at"] is not None
    missing = await client.patch("/api/v1/sources/nope", json={"enabled": True}, headers=admin)
    assert missing.status_code == 404


async def test_reading_needs_read_and_changing_needs_admin(
    client: httpx.AsyncClient, auth: dict[str, str], admin: dict[str, str]
) -> None:
    assert (await client.get("/api/v1/sources")).status_code == 401
    assert (await client.get("/api/v1/sources", headers=auth)).status_code == 200
    assert (await client.post("/api/v1/sources", json=HN, headers=auth)).status_code == 403
    assert (await client.get("/api/v1/collectors", headers=auth)).status_code == 200


async def test_collectors_list_their_config_schema(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    collectors = {
        c["kind"]: c for c in (await client.get("/api/v1/collectors", headers=auth)).json()
    }
    hn = collectors["hackernews"]
    assert hn["inbound"] is False and "query" in hn["config_schema"]["required"]
