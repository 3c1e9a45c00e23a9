"""The feedback JSON API through httpx's ASGI transport, on SQLite and PostgreSQL."""

import httpx
import pytest

from tests.factories import item

pytestmark = pytest.mark.anyio
URL = "/api/v1/feedback"


async def test_one_item_is_stored_and_read_back(client: httpx.AsyncClient, auth: dict) -> None:
    sent = item(text="Billing charged me twice", answers={"q1": "yes"}, metadata={"plan": "pro"})
    response = await client.post(URL, json=sent, headers=auth)
    assert response.status_code == 201, response.text
    stored = response.json()
    assert stored["text"] == "Billing charged me twice"
    assert stored["score_type"] == "nps"
    assert stored["score"] == 3
    assert stored["answers"] == {"q1": "yes"}
    assert stored["metadata"] == {"plan": "pro"}
    assert stored["customer"]["ref"] == "cus_1"
    assert stored["customer"]["segment"] == "smb"
    assert stored["nlp_state"] == "pending"
    assert stored["created_at"].startswith("2026-11-01T10:00:00")

    fetched = await client.get(f"{URL}/{stored['id']}", headers=auth)
    assert fetched.status_code == 200
    assert fetched.json() == stored


async def test_resend_returns_the_stored_item_not_a_second_row(
    client: httpx.AsyncClient, auth: dict
) -> None:
    sent = item()
    first = await client.post(URL, json=sent, headers=auth)
    again = await client.post(URL, json=sent, headers=auth)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    listing = await client.get(URL, headers=auth)
    assert len(listing.json()["items"]) == 1


async def test_changed_resend_keeps_the_stored_item(client: httpx.AsyncClient, auth: dict) -> None:
    sent = item(text="original words")
    await client.post(URL, json=sent, headers=auth)
    batch = await client.post(URL, json={"items": [{**sent, "text": "edited"}]}, headers=auth)
    result = batch.json()["results"][0]
    assert result["status"] == "duplicate"
    assert "different content" in result["note"]
    stored = await client.get(f"{URL}/{result['id']}", headers=auth)
    assert stored.json()["text"] == "original words"


async def test_batch_keeps_good_items_when_one_is_bad(
    client: httpx.AsyncClient, auth: dict
) -> None:
    good_a, good_b = item(), item(channel="review", score_type="stars", score=5)
    bad = item(score=11)
    response = await client.post(URL, json={"items": [good_a, bad, good_b, good_a]}, headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["duplicate"], body["rejected"]) == (2, 1, 1)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["created", "rejected", "created", "duplicate"]
    assert body["results"][1]["errors"][0]["message"].startswith("score 11 is out of range")
    assert body["results"][3]["id"] == body["results"][0]["id"]
    listing = await client.get(URL, headers=auth)
    assert len(listing.json()["items"]) == 2


async def test_batch_limit_and_shape(client: httpx.AsyncClient, auth: dict) -> None:
    tiny = {"source": "t", "channel": "rating", "score_type": "thumbs", "score": 1}
    too_many = {"items": [{**tiny, "external_id": str(n)} for n in range(1001)]}
    response = await client.post(URL, json=too_many, headers=auth)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["body", "items"]
    assert "at most 1000 items" in response.json()["error"]["message"]

    for body, loc in (
        ({"items": []}, ["body", "items"]),
        ({"items": "x"}, ["body", "items"]),
        ({"items": [item()], "extra": 1}, ["body", "extra"]),
        ([item()], ["body"]),
    ):
        response = await client.post(URL, json=body, headers=auth)
        assert response.status_code == 422, body
        assert response.json()["error"]["details"][0]["loc"] == loc


async def test_auth_is_required_and_scoped(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    from hub.auth.service import create_key, revoke_key
    from hub.store.engine import session_scope

    with session_scope(db.engine) as session:
        read_only = create_key(session, name="reader", scopes=["read"])
        revoked = create_key(session, name="old", scopes=["ingest"])
        revoke_key(session, key_id=revoked.id)
    cases = [
        ({}, 401, "missing API key"),
        ({"Authorization": "Bearer nonsense"}, 401, "malformed API key"),
        ({"Authorization": "Bearer fhk_0000000000_xyz"}, 401, "unknown API key"),
        ({"Authorization": f"Basic {read_only.key}"}, 401, "missing API key"),
        ({"Authorization": f"Bearer {revoked.key}"}, 401, "revoked"),
        ({"Authorization": f"Bearer {read_only.key}"}, 403, "lacks the `ingest` scope"),
    ]
    for headers, status, message in cases:
        response = await client.post(URL, json=item(), headers=headers)
        assert response.status_code == status, headers
        assert response.json()["error"]["code"] in ("unauthorized", "forbidden")
        assert message in response.json()["error"]["message"]
    assert (await client.get(URL)).status_code == 401
    assert (
        await client.get(URL, headers={"Authorization": f"Bearer {read_only.key}"})
    ).status_code == 200


async def test_body_over_the_limit_is_413(client: httpx.AsyncClient, auth: dict) -> None:
    big = {"items": [item(text="x" * 15_000) for _ in range(20)]}  # ~300 KiB > 256 KiB
    response = await client.post(URL, json=big, headers=auth)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"

    async def chunks():  # no Content-Length: the limit still holds
        for _ in range(40):
            yield b"x" * 10_000

    response = await client.post(URL, content=chunks(), headers=auth)
    assert response.status_code == 413
    assert (await client.get(URL, headers=auth)).json()["items"] == []


async def test_malformed_json_is_400(client: httpx.AsyncClient, auth: dict) -> None:
    response = await client.post(
        URL, content=b'{"source": "x",', headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


async def test_unknown_item_and_route_are_404(client: httpx.AsyncClient, auth: dict) -> None:
    missing = await client.get(f"{URL}/999999", headers=auth)
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"code": "not_found", "message": "no feedback with id 999999", "details": None}
    }
    nowhere = await client.get("/api/v1/nowhere")
    assert nowhere.status_code == 404
    assert nowhere.json()["error"]["code"] == "not_found"


async def test_healthz(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/healthz")
    assert response.json() == {"status": "ok", "database": db.engine.dialect.name}


async def test_openapi_documents_the_ingest_body(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    body = schema["paths"]["/api/v1/feedback"]["post"]["requestBody"]
    refs = [s["$ref"] for s in body["content"]["application/json"]["schema"]["oneOf"]]
    assert refs == ["#/components/schemas/FeedbackIn", "#/components/schemas/FeedbackBatchIn"]
    assert "score_type" in schema["components"]["schemas"]["FeedbackIn"]["properties"]
