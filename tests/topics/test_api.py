"""The topic API: seeded taxonomy, curation, corrections that teach, scopes."""

import httpx
import pytest

from hub.auth.service import create_key
from hub.store.engine import session_scope
from hub.topics.service import seed_topics, store_model_topics
from tests.factories import item

pytestmark = pytest.mark.anyio


@pytest.fixture
def admin(db) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        seed_topics(session)
        key = create_key(session, name="admin", scopes=["admin"]).key
    return {"Authorization": f"Bearer {key}"}


async def test_seeded_taxonomy_is_listed(
    client: httpx.AsyncClient, admin: dict, auth: dict
) -> None:
    topics = (await client.get("/api/v1/topics", headers=auth)).json()
    keys = [t["key"] for t in topics]
    assert len(keys) == 13
    assert {"billing", "delivery", "app_bugs", "customer_support", "subscription"} <= set(keys)
    billing = next(t for t in topics if t["key"] == "billing")
    assert billing["origin"] == "seeded"
    assert {len(billing["examples"][lang]) for lang in ("en", "es", "pt")} == {10}


async def test_create_and_edit_a_topic(client: httpx.AsyncClient, admin: dict) -> None:
    created = await client.post(
        "/api/v1/topics",
        json={
            "key": "packaging",
            "name": "Packaging",
            "parent": "order_accuracy",
            "examples": {"en": ["too much plastic", " "], "pt": ["embalagem rasgada"]},
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["parent"] == "order_accuracy"
    assert created.json()["examples"] == {"en": ["too much plastic"], "pt": ["embalagem rasgada"]}
    edited = await client.patch(
        "/api/v1/topics/packaging",
        json={"name": "Packaging & waste", "active": False},
        headers=admin,
    )
    assert (edited.json()["name"], edited.json()["active"]) == ("Packaging & waste", False)


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"key": "Bad Key", "name": "x"}, 422, "pattern"),
        ({"key": "billing", "name": "again"}, 409, "exists already"),
        ({"key": "orphan", "name": "x", "parent": "nowhere"}, 404, "no topic with key 'nowhere'"),
        ({"key": "langs", "name": "x", "examples": {"english": ["hi"]}}, 422, "ISO 639-1"),
        ({"key": "extra", "name": "x", "colour": "red"}, 422, "Extra inputs"),
    ],
)
async def test_bad_topics_are_refused(
    client: httpx.AsyncClient, admin: dict, body: dict, status: int, fragment: str
) -> None:
    response = await client.post("/api/v1/topics", json=body, headers=admin)
    assert response.status_code == status
    assert fragment in str(response.json()["error"])


async def test_changes_need_the_admin_scope(
    client: httpx.AsyncClient, admin: dict, auth: dict
) -> None:
    response = await client.post("/api/v1/topics", json={"key": "x1", "name": "x"}, headers=auth)
    assert response.status_code == 403
    response = await client.patch("/api/v1/topics/billing", json={"name": "x"}, headers=auth)
    assert response.status_code == 403


async def test_a_correction_replaces_model_topics_and_teaches(
    client: httpx.AsyncClient, admin: dict, auth: dict, db
) -> None:  # type: ignore[no-untyped-def]
    sent = await client.post(
        "/api/v1/feedback", json=item(text="Charged twice for one order"), headers=auth
    )
    feedback_id = sent.json()["id"]
    with session_scope(db.engine) as session:
        store_model_topics(session, assigned={feedback_id: [("delivery", 0.7), ("pricing", 0.6)]})
    before = (await client.get(f"/api/v1/feedback/{feedback_id}", headers=auth)).json()["topics"]
    assert [(t["key"], t["assigned_by"]) for t in before] == [
        ("delivery", "model"),
        ("pricing", "model"),
    ]

    corrected = await client.post(
        f"/api/v1/feedback/{feedback_id}/topics", json={"topics": ["billing"]}, headers=admin
    )
    assert corrected.status_code == 200
    assert [(t["key"], t["confidence"], t["assigned_by"]) for t in corrected.json()] == [
        ("billing", 1.0, "person")
    ]
    billing = next(
        t
        for t in (await client.get("/api/v1/topics", headers=auth)).json()
        if t["key"] == "billing"
    )
    assert billing["examples"]["learned"] == ["Charged twice for one order"]
    with session_scope(
        db.engine
    ) as session:  # the model's next pass leaves a person's topics alone
        store_model_topics(session, assigned={feedback_id: [("delivery", 0.9)]})
    after = (await client.get(f"/api/v1/feedback/{feedback_id}", headers=auth)).json()["topics"]
    assert [t["key"] for t in after] == ["billing"]

    unknown = await client.post(
        f"/api/v1/feedback/{feedback_id}/topics", json={"topics": ["nope"]}, headers=admin
    )
    assert unknown.status_code == 404
    missing = await client.post(
        "/api/v1/feedback/999999/topics", json={"topics": []}, headers=admin
    )
    assert missing.status_code == 404
