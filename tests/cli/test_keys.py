"""`feedback-hub keys`: the secret is printed once, stored hashed, and revocable."""

import json
from pathlib import Path

import httpx
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from hub.app import create_app
from hub.auth.models import ApiKey
from hub.cli import app
from hub.config import Settings
from hub.store.engine import session_scope
from tests.factories import item

runner = CliRunner()


def test_create_list_revoke(cli_env: Path, db) -> None:  # type: ignore[no-untyped-def]
    created = runner.invoke(
        app, ["keys", "create", "--name", "widget", "--scope", "ingest", "--json"]
    )
    assert created.exit_code == 0, created.output
    shown = json.loads(created.stdout)
    assert set(shown) == {"id", "key"}
    assert shown["key"].startswith("fhk_")
    with session_scope(db.engine) as session:
        stored = session.exec(select(ApiKey)).one()
    assert shown["key"] not in stored.key_hash
    assert len(stored.key_hash) == 64
    assert stored.scopes == ["ingest"]

    listed = json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)
    assert [(k["id"], k["name"], k["scopes"], k["revoked_at"]) for k in listed] == [
        (shown["id"], "widget", ["ingest"], None)
    ]
    assert shown["key"] not in runner.invoke(app, ["keys", "list"]).stdout

    revoked = runner.invoke(app, ["keys", "revoke", str(shown["id"])])
    assert revoked.exit_code == 0
    assert "revoked" in revoked.output
    assert json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)[0]["revoked_at"]


def test_bad_scope_and_unknown_key_are_clear_errors(cli_env: Path, db) -> None:  # type: ignore[no-untyped-def]
    bad = runner.invoke(app, ["keys", "create", "--name", "x", "--scope", "everything"])
    assert bad.exit_code == 2
    assert "everything" in bad.output
    missing = runner.invoke(app, ["keys", "revoke", "424242"])
    assert missing.exit_code == 2
    assert "no API key with id 424242" in missing.output


@pytest.mark.anyio
async def test_a_cli_key_authenticates_api_calls(cli_env: Path, db) -> None:  # type: ignore[no-untyped-def]
    key = json.loads(
        runner.invoke(app, ["keys", "create", "--name", "k", "--scope", "ingest", "--json"]).stdout
    )["key"]
    hub_app = create_app(Settings(database_url=db.url), engine=db.engine)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hub_app), base_url="http://t"
    ) as client:
        response = await client.post(
            "/api/v1/feedback", json=item(), headers={"Authorization": f"Bearer {key}"}
        )
    assert response.status_code == 201
