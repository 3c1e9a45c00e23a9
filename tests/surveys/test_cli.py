"""`feedback-hub surveys create/list`: the --json shape and a key that works at once."""

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hub.cli import app
from tests.conftest import Database
from tests.surveys.conftest import ORIGIN

runner = CliRunner()


def test_create_and_list(cli_env: Path, db: Database) -> None:
    created = runner.invoke(
        app,
        ["surveys", "create", "--type", "csat", "--question", "How did we do?",
         "--origin", ORIGIN, "--origin", "http://localhost:3000", "--question-es", "¿Qué tal?",
         "--name", "Support CSAT", "--json"],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    shown = json.loads(created.stdout)
    assert set(shown) == {"id", "key"}
    assert isinstance(shown["id"], int) and shown["key"].startswith("pk_")

    listed = json.loads(runner.invoke(app, ["surveys", "list", "--json"]).stdout)
    [survey] = listed
    assert (survey["id"], survey["key"], survey["type"], survey["name"]) == (
        shown["id"],
        shown["key"],
        "csat",
        "Support CSAT",
    )
    assert survey["question"] == {"en": "How did we do?", "es": "¿Qué tal?", "pt": None}
    assert survey["allowed_origins"] == [ORIGIN, "http://localhost:3000"]
    assert survey["snippet"] == (
        f'<script src="http://127.0.0.1:8000/widget.js" data-key="{shown["key"]}" async></script>'
    )
    table = runner.invoke(app, ["surveys", "list"])
    assert table.exit_code == 0 and shown["key"] in table.stdout
    # A widget key is not a bearer key: `keys create --scope submit` is refused.
    refused = runner.invoke(app, ["keys", "create", "--name", "w", "--scope", "submit"])
    assert refused.exit_code == 2
    assert "surveys create" in refused.output


def test_plain_output_prints_the_snippet(
    cli_env: Path, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_PUBLIC_URL", "https://feedback.example.com/")
    created = runner.invoke(
        app, ["surveys", "create", "--type", "thumbs", "--question", "Helpful?", "--origin", ORIGIN]
    )
    assert created.exit_code == 0, created.output
    assert '<script src="https://feedback.example.com/widget.js" data-key="pk_' in created.stdout


def test_bad_input_is_a_clear_error(cli_env: Path, db: Database) -> None:
    bad_type = runner.invoke(
        app, ["surveys", "create", "--type", "stars", "--question", "Q", "--origin", ORIGIN]
    )
    assert bad_type.exit_code == 2
    assert "stars" in bad_type.output
    bad_origin = runner.invoke(
        app, ["surveys", "create", "--type", "nps", "--question", "Q", "--origin", "shop.example"]
    )
    assert bad_origin.exit_code == 2
    assert "an origin is http(s)://host[:port]" in bad_origin.output


@pytest.mark.anyio
async def test_a_cli_survey_takes_responses(
    cli_env: Path, db: Database, client: httpx.AsyncClient
) -> None:
    args = ["surveys", "create", "--type", "nps", "--question", "Q?", "--origin", ORIGIN, "--json"]
    key = json.loads(runner.invoke(app, args).stdout)["key"]
    sent = await client.post(
        "/api/v1/responses",
        json={"key": key, "score": 10},
        headers={"Origin": ORIGIN, "Idempotency-Key": "cli-made-key"},
    )
    assert sent.status_code == 201, sent.text
    config = await client.get("/api/v1/widget/config", params={"key": key})
    assert config.json()["type"] == "nps"
