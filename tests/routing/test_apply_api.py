"""The apply and try routes: scopes, 200/201/404/409/422 with the error model."""

import httpx
import pytest
from sqlmodel import select

from hub.auth.service import create_key
from hub.cases.models import Case
from hub.store.engine import session_scope
from hub.users.models import Team
from tests.conftest import Database
from tests.routing.test_apply import BIG, text_only
from tests.routing.test_routing import agents, store


@pytest.mark.anyio
async def test_apply_and_try_routes(client: httpx.AsyncClient, db: Database) -> None:
    team, _ = agents(db, 1)
    with session_scope(db.engine) as session:
        admin = {"Authorization": f"Bearer {create_key(session, name='a', scopes=['admin']).key}"}
        reader = {"Authorization": f"Bearer {create_key(session, name='r', scopes=['read']).key}"}
    [charged] = store(db, text_only("Charged twice again", 3, BIG))
    raise_for = {"attribute_ranges": {"mrr": {"min": 1000}}, "to": "urgent"}
    rule = {"name": "charges", "team_id": team, "conditions": {"keywords": ["charged twice"]},
            "raise_priority_for": raise_for}  # fmt: skip
    created = await client.post("/api/v1/routing/rules", json=rule, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["raise_priority_for"] == {
        "segments": [], "attribute_ranges": {"mrr": {"min": 1000.0, "max": None}}, "to": "urgent",
    }  # fmt: skip
    rule_id = created.json()["id"]
    draft = {"conditions": {"keywords": ["charged twice"]}}  # no name, no destination
    tried = await client.post("/api/v1/routing/rules/try?days=7", json=draft, headers=admin)
    assert tried.status_code == 200, tried.text
    assert tried.json()["examples"][0]["taken_by"] == "charges"
    assert tried.json()["examples"][0]["link"] == f"/feedback/{charged}"
    missing = await client.post("/api/v1/routing/rules/try?rule_id=999", json=draft, headers=admin)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

    url = f"/api/v1/routing/rules/{rule_id}/apply"
    assert (await client.post(url, json={"days": 7}, headers=reader)).status_code == 403
    for bad in ({"days": 0}, {"days": 366}, {}, {"days": 7, "x": 1}):
        refused = await client.post(url, json=bad, headers=admin)
        assert refused.status_code == 422, bad
    applied = await client.post(url, json={"days": 7}, headers=admin)
    assert applied.status_code == 200, applied.text
    body = applied.json()
    assert (body["matched"], body["opened"], body["skipped_with_case"]) == (1, 1, 0)
    assert body["taken_by_earlier_rules"] == 0
    with session_scope(db.engine) as session:
        [case] = session.exec(select(Case)).all()
        assert (body["case_ids"], case.priority) == ([case.id], "urgent")
        session.delete(session.get(Team, team))  # the rule now sends to nobody
    nobody = await client.post(url, json={"days": 7}, headers=admin)
    assert nobody.status_code == 409 and "sends to nobody" in nobody.json()["error"]["message"]
    gone = await client.post("/api/v1/routing/rules/999/apply", json={"days": 7}, headers=admin)
    assert gone.status_code == 404


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"raise_priority_for": {"segments": []}}, "name a segment or a customer attribute"),
        ({"conditions": {"attribute_ranges": {"mrr": {"min": 9, "max": 1}}}}, "min is above max"),
        ({"conditions": {"attribute_ranges": {"mrr": {"min": "lots"}}}}, "valid number"),
    ],
)
async def test_bad_ranges_are_422_with_a_precise_message(
    client: httpx.AsyncClient, db: Database, change: dict, message: str
) -> None:
    with session_scope(db.engine) as session:
        admin = {"Authorization": f"Bearer {create_key(session, name='a', scopes=['admin']).key}"}
    rule = {"name": "x", "team_id": 1, **change}
    refused = await client.post("/api/v1/routing/rules", json=rule, headers=admin)
    assert refused.status_code == 422 and message in refused.text
