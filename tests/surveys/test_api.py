"""Surveys through the admin API; the widget's config endpoint and CORS preflights."""

import httpx
import pytest
from sqlmodel import select

from hub.auth.service import revoke_key
from hub.sources.models import Source
from hub.store.engine import session_scope
from hub.surveys.models import SurveyPublic
from tests.conftest import Database
from tests.surveys.conftest import ORIGIN, OTHER_ORIGIN, make_survey

pytestmark = pytest.mark.anyio
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}


async def test_create_list_get_and_patch_a_survey(
    client: httpx.AsyncClient, admin_auth: dict[str, str], db: Database
) -> None:
    body = {
        "name": "Onboarding CES",
        "type": "ces",
        "question": {"en": "How easy was it?", "pt": "Foi fácil?"},
        "follow_up": {"en": "What made it hard?"},
        "allowed_origins": ["https://App.Example.com:443/", "http://localhost:3000"],
        "rate_limit_per_minute": 12,
    }
    created = await client.post("/api/v1/surveys", json=body, headers=admin_auth)
    assert created.status_code == 201, created.text
    survey = created.json()
    assert survey["key"].startswith("pk_")
    assert survey["allowed_origins"] == ["https://app.example.com", "http://localhost:3000"]
    assert survey["question"] == {"en": "How easy was it?", "es": None, "pt": "Foi fácil?"}
    assert survey["snippet"] == (
        f'<script src="http://hub.test/widget.js" data-key="{survey["key"]}" async></script>'
    )
    assert survey["active"] and not survey["key_revoked"]
    with session_scope(db.engine) as session:
        source = session.exec(select(Source).where(Source.name == survey["source"])).one()
    assert source.kind == "widget"

    listed = await client.get("/api/v1/surveys", headers=admin_auth)
    assert [s["id"] for s in listed.json()] == [survey["id"]]
    one = await client.get(f"/api/v1/surveys/{survey['id']}", headers=admin_auth)
    assert one.json()["key"] == survey["key"]

    patch = {"question": {"en": "Was it easy?"}, "allowed_origins": [ORIGIN], "active": False}
    patched = await client.patch(f"/api/v1/surveys/{survey['id']}", json=patch, headers=admin_auth)
    assert patched.status_code == 200, patched.text
    assert patched.json()["question"]["en"] == "Was it easy?"
    assert patched.json()["allowed_origins"] == [ORIGIN]
    assert patched.json()["active"] is False
    assert patched.json()["rate_limit_per_minute"] == 12  # left out: kept
    assert patched.json()["key"] == survey["key"]


async def test_survey_api_needs_admin_and_valid_input(
    client: httpx.AsyncClient, admin_auth: dict[str, str], auth: dict[str, str]
) -> None:
    body = {"type": "nps", "question": {"en": "Recommend us?"}, "allowed_origins": [ORIGIN]}
    assert (await client.post("/api/v1/surveys", json=body)).status_code == 401
    assert (await client.post("/api/v1/surveys", json=body, headers=auth)).status_code == 403
    bad = {**body, "type": "stars", "allowed_origins": ["ftp://x.example.com"]}
    refused = await client.post("/api/v1/surveys", json=bad, headers=admin_auth)
    assert refused.status_code == 422
    locs = [d["loc"] for d in refused.json()["error"]["details"]]
    assert ["body", "type"] in locs and ["body", "allowed_origins"] in locs
    with_path = {**body, "allowed_origins": ["https://shop.example.com/checkout"]}
    refused = await client.post("/api/v1/surveys", json=with_path, headers=admin_auth)
    assert "no path" in refused.json()["error"]["message"]
    missing = await client.patch("/api/v1/surveys/4242", json={}, headers=admin_auth)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no survey with id 4242"


async def test_widget_config(client: httpx.AsyncClient, survey: SurveyPublic) -> None:
    got = await client.get(
        "/api/v1/widget/config", params={"key": survey.key}, headers={"Origin": ORIGIN}
    )
    assert got.status_code == 200
    assert got.json() == {
        "survey_id": survey.id,
        "type": "nps",
        "question": {
            "en": "How likely are you to recommend us?",
            "es": "¿Nos recomendarías?",
            "pt": None,
        },
        "follow_up": {
            "en": "What is the main reason for your answer?",
            "es": "¿Cuál es el motivo principal de tu respuesta?",
            "pt": "Qual é o principal motivo da sua resposta?",
        },
    }
    assert got.headers["access-control-allow-origin"] == ORIGIN
    assert got.headers["vary"] == "Origin"
    # Without an Origin (a server, curl): readable; it is what the snippet shows anyway.
    assert (
        await client.get("/api/v1/widget/config", params={"key": survey.key})
    ).status_code == 200


async def test_widget_config_refusals(
    client: httpx.AsyncClient, survey: SurveyPublic, db: Database, admin_auth: dict[str, str]
) -> None:
    other = make_survey(db, allowed_origins=[OTHER_ORIGIN])
    wrong_origin = await client.get(
        "/api/v1/widget/config", params={"key": survey.key}, headers={"Origin": OTHER_ORIGIN}
    )
    assert wrong_origin.status_code == 403
    assert wrong_origin.json()["error"]["message"] == (
        f"origin '{OTHER_ORIGIN}' is not allowed for this widget key"
    )
    # OTHER_ORIGIN is another active key's origin, so the widget may read the refusal.
    assert wrong_origin.headers["access-control-allow-origin"] == OTHER_ORIGIN
    unknown = await client.get("/api/v1/widget/config", params={"key": "pk_nope"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    assert unknown.json()["error"]["message"] == "unknown widget key"

    await client.patch(f"/api/v1/surveys/{other.id}", json={"active": False}, headers=admin_auth)
    inactive = await client.get("/api/v1/widget/config", params={"key": other.key})
    assert (inactive.status_code, inactive.json()["error"]["message"]) == (
        404,
        "this widget key's survey is inactive",
    )
    with session_scope(db.engine) as session:
        revoke_key(session, key_id=survey.key_id)
    revoked = await client.get("/api/v1/widget/config", params={"key": survey.key})
    assert (revoked.status_code, revoked.json()["error"]["message"]) == (
        404,
        "this widget key was revoked",
    )


@pytest.mark.parametrize("path", ["/api/v1/responses", "/api/v1/widget/config"])
async def test_preflight_allowed_origin(
    client: httpx.AsyncClient, survey: SurveyPublic, path: str
) -> None:
    allowed = await client.options(path, headers={"Origin": ORIGIN, **PREFLIGHT})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert allowed.headers["vary"] == "Origin"
    assert allowed.headers["access-control-allow-methods"] == "GET, POST"
    assert allowed.headers["access-control-allow-headers"] == "Content-Type, Idempotency-Key"
    assert allowed.headers["access-control-max-age"] == "86400"


async def test_preflight_refused_origin_gets_no_cors_headers(
    client: httpx.AsyncClient, survey: SurveyPublic, db: Database, admin_auth: dict[str, str]
) -> None:
    for origin in (OTHER_ORIGIN, "null", "https://shop.example.com.evil.test"):
        refused = await client.options("/api/v1/responses", headers={"Origin": origin, **PREFLIGHT})
        assert not [h for h in refused.headers if h.startswith("access-control-")], origin
    # An inactive survey's origins are not allowed (a change through the API shows at once).
    await client.patch(f"/api/v1/surveys/{survey.id}", json={"active": False}, headers=admin_auth)
    gone = await client.options("/api/v1/responses", headers={"Origin": ORIGIN, **PREFLIGHT})
    assert "access-control-allow-origin" not in gone.headers


async def test_other_api_routes_get_no_cors(
    client: httpx.AsyncClient, survey: SurveyPublic, auth: dict[str, str]
) -> None:
    preflight = await client.options("/api/v1/feedback", headers={"Origin": ORIGIN, **PREFLIGHT})
    assert "access-control-allow-origin" not in preflight.headers
    listed = await client.get("/api/v1/feedback", headers={"Origin": ORIGIN, **auth})
    assert "access-control-allow-origin" not in listed.headers
