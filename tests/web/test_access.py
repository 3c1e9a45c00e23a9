"""Who may call what: every API route against each role (signed in) and each key scope."""

import httpx
import pytest

from hub.auth.service import create_key
from hub.store.engine import session_scope
from hub.users.models import Role
from tests.conftest import Database
from tests.factories import item
from tests.signin import sign_in

pytestmark = pytest.mark.anyio

# (method, path, body, the least role that may) — the body is valid, so allowed calls succeed.
ROUTES = [
    ("GET", "/api/v1/feedback", None, Role.viewer),
    ("POST", "/api/v1/feedback", item(), Role.agent),
    ("GET", "/api/v1/topics", None, Role.viewer),
    ("GET", "/api/v1/sources", None, Role.viewer),
    ("GET", "/api/v1/collectors", None, Role.viewer),
    ("POST", "/api/v1/sources", {"kind": "hackernews", "name": "hn", "config": {"query": "q"}},
     Role.admin),
]  # fmt: skip


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("method", "path", "body", "least"), ROUTES)
async def test_roles(
    client: httpx.AsyncClient, db: Database, role: Role,
    method: str, path: str, body: object, least: Role,
) -> None:  # fmt: skip
    csrf = await sign_in(client, db.engine, role)
    response = await client.request(method, path, json=body, headers={"X-CSRF-Token": csrf})
    if role.allows(least):
        assert response.status_code < 300, response.text
    else:
        assert response.status_code == 403
        assert f"needs the {least.value} role" in response.json()["error"]["message"]


async def test_a_person_must_echo_the_csrf_token_to_change_things(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_in(client, db.engine, Role.admin)
    response = await client.post("/api/v1/feedback", json=item())
    assert response.status_code == 403 and "X-CSRF-Token" in response.text
    assert (await client.get("/api/v1/feedback")).status_code == 200  # reading needs none


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        (["read"], {"GET"}),
        (["ingest"], {"POST feedback"}),
        (["admin"], {"GET", "POST feedback", "POST sources"}),
    ],
)
async def test_key_scopes(
    client: httpx.AsyncClient, db: Database, scopes: list[str], allowed: set[str]
) -> None:
    with session_scope(db.engine) as session:
        headers = {"Authorization": f"Bearer {create_key(session, name='k', scopes=scopes).key}"}
    for method, path, body, _least in ROUTES:
        label = method if method == "GET" else f"{method} {path.rsplit('/', 1)[-1]}"
        response = await client.request(method, path, json=body, headers=headers)
        assert (response.status_code < 300) == (label in allowed), (label, response.text)


async def test_an_ended_session_is_401_not_a_redirect(
    db: Database, client: httpx.AsyncClient
) -> None:
    client.cookies.set("hub_session", "not-a-session")
    response = await client.get("/api/v1/feedback")
    assert response.status_code == 401 and "sign in again" in response.text
