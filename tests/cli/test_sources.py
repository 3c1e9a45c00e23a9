"""`feedback-hub sources …` and `feedback-hub collect`, the latter against a real HTTP server."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from hub.cli import app
from hub.feedback.models import Feedback
from hub.sources.models import Source
from hub.store.engine import session_scope
from tests.collectors.contract import NOW
from tests.collectors.hackernews.test_hackernews import FakeAlgolia
from tests.collectors.local_http import local_http_server

runner = CliRunner()


def add(*args: str) -> object:
    return runner.invoke(app, ["sources", "add", *args])


def test_add_list_enable_disable(cli_env: Path, db) -> None:  # type: ignore[no-untyped-def]
    result = add("--kind", "hackernews", "--name", "hn", "--config", '{"query": "cestia"}')
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    listed = json.loads(runner.invoke(app, ["sources", "list", "--json"]).stdout)
    assert [(s["name"], s["kind"], s["status"]) for s in listed] == [
        ("hn", "hackernews", "never_run")
    ]
    assert "hn" in runner.invoke(app, ["sources", "list"]).stdout
    off = runner.invoke(app, ["sources", "disable", "hn"])
    assert off.exit_code == 0 and "disabled" in off.stdout
    on = runner.invoke(app, ["sources", "enable", "hn"])
    assert on.exit_code == 0 and "never_run" in on.stdout
    kinds = runner.invoke(app, ["sources", "kinds"])
    assert kinds.exit_code == 0 and "hackernews" in kinds.stdout and "query*" in kinds.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--kind", "hackernews", "--name", "x", "--config", "{nope"],
            "--config is not valid JSON",
        ),
        (["--kind", "hackernews", "--name", "x", "--config", "[1]"], "must be a JSON object"),
        (["--kind", "hackernews", "--name", "x", "--config", "{}"], "config.query: Field required"),
        (["--kind", "friendster", "--name", "x"], "no collector of kind 'friendster'"),
        (["--kind", "hackernews", "--name", "bad name!", "--config", '{"query": "a"}'], "name"),
    ],
)
def test_add_refuses_bad_input_precisely(
    cli_env: Path,
    db,
    args: list[str],
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    result = add(*args)
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert message in " ".join(result.output.split())  # type: ignore[attr-defined]


def test_enable_an_unknown_source(cli_env: Path, db) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["sources", "enable", "nope"])
    assert result.exit_code == 2 and "no source named 'nope'" in result.output


@pytest.fixture
def algolia_server() -> Iterator[tuple[str, FakeAlgolia]]:
    """A real HTTP server on loopback answering like Algolia's search_by_date."""
    api = FakeAlgolia()
    with local_http_server(api) as base_url:
        yield f"{base_url}/api/v1", api


def test_collect_end_to_end_over_real_http(
    cli_env: Path,
    db,
    algolia_server: tuple[str, FakeAlgolia],  # type: ignore[no-untyped-def]
) -> None:
    base_url, api = algolia_server
    api.add(8, start=1, newest=NOW - timedelta(hours=1))
    config = json.dumps({"base_url": base_url, "query": "cestia", "page_size": 5})
    assert add("--kind", "hackernews", "--name", "hn", "--config", config).exit_code == 0  # type: ignore[attr-defined]
    env = {**os.environ, "HUB_DATABASE_URL": db.url, "HUB_LOG_LEVEL": "warning"}
    command = [sys.executable, "-m", "hub.cli", "collect"]
    first = subprocess.run(
        command, env=env, cwd=cli_env, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert "hn: ok — 2 pages, 8 created" in first.stdout
    assert len(api.requests) == 2
    with session_scope(db.engine) as session:
        assert len(session.exec(select(Feedback)).all()) == 8
        assert session.exec(select(Source)).one().cursor["sweep"] is None  # type: ignore[index]
    api.add(1, start=100, newest=NOW)
    second = subprocess.run(
        command, env=env, cwd=cli_env, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0 and "1 created" in second.stdout


def test_collect_fails_with_exit_1_when_a_source_fails(
    cli_env: Path,
    db,  # type: ignore[no-untyped-def]
) -> None:
    # Nothing listens on this port: the run fails, the source is marked, the command says so.
    config = json.dumps({"base_url": "http://127.0.0.1:9/api/v1", "query": "x"})
    assert add("--kind", "hackernews", "--name", "dead", "--config", config).exit_code == 0  # type: ignore[attr-defined]
    env = {**os.environ, "HUB_DATABASE_URL": db.url, "HUB_LOG_LEVEL": "error",
           "HUB_COLLECTOR_ATTEMPTS": "1"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "collect", "dead"],
        env=env, cwd=cli_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "dead: failed" in result.stdout and "could not reach the source" in result.stdout
    with session_scope(db.engine) as session:
        assert session.exec(select(Source)).one().consecutive_failures == 1
