"""The curation API: accept, rename, merge and delete topics; admin scope only."""

import httpx
import pytest

from hub.auth.service import create_key
from hub.store.engine import session_scope
from hub.topics.models import Topic, TopicOrigin
from hub.topics.service import seed_topics, store_model_topics
from tests.conftest import Database
from tests.factories import item
from tests.metrics.test_rollups import assert_rollups_match_rebuild

pytestmark = pytest.mark.anyio


@pytest.fixture
def admin(db: Database) -> dict[str, str]:
    with session_scope(db.engine) as session:
        seed_topics(session)
        session.add(
            Topic(key="discovered_parking", name="parking", origin=TopicOrigin.discovered,
                  active=False, examples={"discovered": ["No parking anywhere"]})
        )  # fmt: skip
        key = create_key(session, name="admin", scopes=["admin"]).key
    return {"Authorization": f"Bearer {key}"}


async def topics(client: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, dict]:
    listed = (await client.get("/api/v1/topics", headers=auth)).json()
    return {topic["key"]: topic for topic in listed}


async def test_accept_rename_merge_and_delete(
    client: httpx.AsyncClient, admin: dict[str, str], auth: dict[str, str], db: Database
) -> None:
    sent = await client.post("/api/v1/feedback", json=item(), headers=auth)
    feedback_id = sent.json()["id"]
    with session_scope(db.engine) as session:
        store_model_topics(session, assigned={feedback_id: [("pricing", 0.7)]})

    accepted = await client.post(
        "/api/v1/topics/discovered_parking/accept",
        json={"key": "parking", "name": "Parking"},
        headers=admin,
    )
    assert accepted.status_code == 200, accepted.text
    assert {k: accepted.json()[k] for k in ("key", "name", "origin", "active")} == {
        "key": "parking", "name": "Parking", "origin": "curated", "active": True,
    }  # fmt: skip

    renamed = await client.patch(
        "/api/v1/topics/parking", json={"key": "parking_pickup"}, headers=admin
    )
    assert (renamed.status_code, renamed.json()["key"]) == (200, "parking_pickup")

    merged = await client.post(
        "/api/v1/topics/pricing/merge", json={"into": "billing"}, headers=admin
    )
    assert merged.status_code == 200, merged.text
    assert (merged.json()["topic"]["key"], merged.json()["moved"]) == ("billing", 1)
    item_topics = (await client.get(f"/api/v1/feedback/{feedback_id}", headers=auth)).json()
    assert [t["key"] for t in item_topics["topics"]] == ["billing"]

    deleted = await client.delete("/api/v1/topics/parking_pickup", headers=admin)
    assert deleted.status_code == 204
    assert {"pricing", "parking_pickup", "discovered_parking"}.isdisjoint(
        await topics(client, auth)
    )
    assert_rollups_match_rebuild(db)


async def test_accept_needs_no_body(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    accepted = await client.post("/api/v1/topics/discovered_parking/accept", headers=admin)
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["key"], accepted.json()["active"]) == ("discovered_parking", True)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "fragment"),
    [
        ("POST", "/api/v1/topics/nope/accept", {}, 404, "no topic with key 'nope'"),
        ("POST", "/api/v1/topics/billing/accept", {}, 422, "not a suggestion"),
        ("POST", "/api/v1/topics/discovered_parking/accept", {"key": "billing"}, 409,
         "exists already"),
        ("POST", "/api/v1/topics/billing/merge", {"into": "billing"}, 422, "into itself"),
        ("POST", "/api/v1/topics/billing/merge", {"into": "discovered_parking"}, 422,
         "a suggestion"),
        ("POST", "/api/v1/topics/billing/merge", {"into": "nope"}, 404, "'nope'"),
        ("POST", "/api/v1/topics/billing/merge", {}, 422, "into"),
        ("PATCH", "/api/v1/topics/billing", {"key": "delivery"}, 409, "exists already"),
        ("PATCH", "/api/v1/topics/billing", {"key": "Bad Key"}, 422, "pattern"),
        ("DELETE", "/api/v1/topics/nope", None, 404, "'nope'"),
    ],
)  # fmt: skip
async def test_bad_curation_is_refused(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    method: str,
    path: str,
    body: dict | None,
    status: int,
    fragment: str,
) -> None:
    response = await client.request(method, path, json=body, headers=admin)
    assert response.status_code == status, response.text
    assert fragment in str(response.json()["error"])


async def test_a_topic_in_use_is_not_deleted(
    client: httpx.AsyncClient, admin: dict[str, str], auth: dict[str, str], db: Database
) -> None:
    sent = await client.post("/api/v1/feedback", json=item(), headers=auth)
    with session_scope(db.engine) as session:
        store_model_topics(session, assigned={sent.json()["id"]: [("billing", 0.7)]})
    refused = await client.delete("/api/v1/topics/billing", headers=admin)
    assert refused.status_code == 409
    assert "merge it into another topic" in refused.json()["error"]["message"]
    assert refused.json()["error"]["details"] == {"items": 1}
    assert "billing" in await topics(client, auth)


async def test_curation_needs_the_admin_scope(
    client: httpx.AsyncClient, admin: dict[str, str], auth: dict[str, str]
) -> None:
    for method, path, body in [
        ("POST", "/api/v1/topics/discovered_parking/accept", {}),
        ("POST", "/api/v1/topics/billing/merge", {"into": "delivery"}),
        ("DELETE", "/api/v1/topics/discovered_parking", None),
        ("PATCH", "/api/v1/topics/billing", {"key": "payments"}),
    ]:
        response = await client.request(method, path, json=body, headers=auth)
        assert response.status_code == 403, (method, path)
    assert {"billing", "discovered_parking"} <= set(await topics(client, auth))
