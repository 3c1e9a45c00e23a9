"""GET /readyz: 200 when the database answers at the newest migration, 503 with a reason if not."""

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from hub.app import create_app
from hub.config import Settings
from hub.observability.readiness import script_head
from hub.store.engine import make_engine
from hub.store.migrate import downgrade, upgrade
from tests.conftest import Database

pytestmark = pytest.mark.anyio
UNREACHABLE = {
    "sqlite": "sqlite:///{tmp}/no-such-dir/hub.db",
    "postgresql": "postgresql+psycopg://127.0.0.1:1/test?connect_timeout=2",
}


async def readyz(engine: Engine, url: str) -> httpx.Response:
    app = create_app(Settings(database_url=url), engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        return await http.get("/readyz")


async def test_ready_at_the_newest_migration(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready", "reason": "ok", "revision": script_head(), "head": script_head()
    }  # fmt: skip


@pytest.fixture
def one_revision_behind(db: Database) -> Iterator[Database]:
    downgrade(db.engine, "-1")
    try:
        yield db
    finally:
        upgrade(db.engine)


async def test_not_ready_one_migration_behind(one_revision_behind: Database) -> None:
    db = one_revision_behind
    response = await readyz(db.engine, db.url)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["revision"] != body["head"] == script_head()
    assert f"database at {body['revision']}, code at {script_head()}" in body["reason"]


async def test_not_ready_when_the_database_is_unreachable(db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = UNREACHABLE[db.backend].format(tmp=tmp_path)
    engine = make_engine(url)
    try:
        response = await readyz(engine, url)
    finally:
        engine.dispose()
    assert response.status_code == 503
    assert response.json()["reason"].startswith("database unreachable (OperationalError")
    assert "127.0.0.1" not in response.text and "no-such-dir" not in response.text


async def test_liveness_stays(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
