"""Shared fixtures: a real database per backend (SQLite file, local PostgreSQL), app and client."""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from starlette.datastructures import State

from hub.app import create_app
from hub.auth.service import create_key
from hub.config import Settings, get_settings
from hub.enrichment.status import NlpStatusCache
from hub.store.engine import make_engine, session_scope
from hub.store.migrate import upgrade
from hub.store.tables import metadata
from hub.surveys.cache import invalidate_widget_caches

POSTGRES_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql+psycopg://127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["sqlite", "postgresql"]
# Sign-ins at argon2's cheapest cost: the production cost made up a third of the run. The
# `feedback-hub` processes the tests start inherit it.
os.environ["HUB_PASSWORD_TIME_COST"] = "1"
os.environ["HUB_PASSWORD_MEMORY_KIB"] = "32"


@dataclass
class Database:
    """A migrated database for tests: its URL (which the CLI and server can use) and engine."""

    backend: str
    url: str
    engine: Engine


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def postgres_schema_url(schema: str) -> str:
    """The test PostgreSQL URL with ``search_path`` set to ``schema``."""
    url = make_url(POSTGRES_URL)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


def _require_postgres() -> None:
    engine = make_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        reason = f"PostgreSQL at {POSTGRES_URL} is unreachable ({type(exc).__name__}: {exc})"
        if IN_CI:
            pytest.fail(f"{reason}; CI must run the PostgreSQL tests")
        pytest.skip(f"!!! PostgreSQL tests NOT RUN: {reason}")
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """A schema of its own for this test run, dropped at the end."""
    _require_postgres()
    schema = f"hub_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield schema
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """One migrated database per backend for the whole run."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'hub.db'}"
    else:
        url = postgres_schema_url(request.getfixturevalue("postgres_schema"))
    engine = make_engine(url)
    upgrade(engine)
    yield Database(request.param, url, engine)
    engine.dispose()


@pytest.fixture
def db(migrated_db: Database) -> Iterator[Database]:
    """The backend's database, emptied after the test."""
    yield migrated_db
    empty_tables(migrated_db.engine)


def empty_tables(engine: Engine) -> None:
    """Delete every row, children first, and restart the ids (the schema stays).

    Cheaper than ``TRUNCATE``, which makes new files for every table on PostgreSQL; on PostgreSQL
    the deletes go in one round trip."""
    deletes = [str(table.delete().compile(engine)) for table in reversed(metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("; ".join([*deletes, RESTART_SEQUENCES]))
            return
        for delete in deletes:
            connection.exec_driver_sql(delete)
        if connection.exec_driver_sql(SQLITE_HAS_SEQUENCES).first() is not None:
            connection.exec_driver_sql("DELETE FROM sqlite_sequence")


RESTART_SEQUENCES = """SELECT setval(c.oid, 1, false) FROM pg_class c
WHERE c.relkind = 'S' AND c.relnamespace = current_schema()::regnamespace"""
SQLITE_HAS_SEQUENCES = "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"


def default_settings(db: Database) -> Settings:
    """The settings the shared app runs with; a test that needs others builds its own app."""
    return Settings(database_url=db.url, max_body_bytes=256 * 1024)


@pytest.fixture
def settings(db: Database) -> Settings:
    return default_settings(db)


@pytest.fixture(scope="session")
def shared_app(migrated_db: Database) -> FastAPI:
    """One app per backend for the run: building one per test cost more than most tests."""
    return create_app(default_settings(migrated_db), engine=migrated_db.engine)


@pytest.fixture
def app(settings: Settings, db: Database, request: pytest.FixtureRequest) -> FastAPI:
    """The shared app, reset, when the test keeps the default settings; else an app of its own."""
    if settings != default_settings(db):
        return create_app(settings, engine=db.engine)
    shared: FastAPI = request.getfixturevalue("shared_app")
    reset_app(shared, settings, db.engine)
    return shared


def reset_app(app: FastAPI, settings: Settings, engine: Engine) -> None:
    """Forget what earlier tests left in ``app``: its state (settings, caches, the widget's rate
    limiter) and its middleware, rebuilt on the next request with empty caches."""
    app.state = State({"settings": settings, "engine": engine})
    app.state.nlp_status_cache = NlpStatusCache()
    app.middleware_stack = None
    app.dependency_overrides.clear()
    invalidate_widget_caches()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        yield http


@pytest.fixture
def api_key(db: Database) -> str:
    """A key with the ingest and read scopes."""
    with session_scope(db.engine) as session:
        return create_key(session, name="tests", scopes=["ingest", "read"]).key


@pytest.fixture
def auth(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


@pytest.fixture
def cli_env(db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Point the CLI's settings at the test database; yields a scratch directory."""
    monkeypatch.setenv("HUB_DATABASE_URL", db.url)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
