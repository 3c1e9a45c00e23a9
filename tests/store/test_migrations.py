"""Migrations from empty on both backends; the models and the migrated schema agree."""

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from hub.store.engine import make_engine
from hub.store.migrate import downgrade, is_current, upgrade
from hub.store.tables import metadata
from tests.conftest import BACKENDS, POSTGRES_URL, _require_postgres, postgres_schema_url

TABLES = {"source", "customer", "feedback", "api_key"}


@pytest.fixture(params=BACKENDS)
def empty_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """A database with nothing in it yet."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield engine
        engine.dispose()
        return
    _require_postgres()
    schema = f"hub_mig_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(postgres_schema_url(schema))
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_upgrade_from_empty_creates_every_table(empty_engine: Engine) -> None:
    assert not is_current(empty_engine)
    upgrade(empty_engine)
    assert is_current(empty_engine)
    assert set(inspect(empty_engine).get_table_names()) >= TABLES


def test_models_match_the_migrated_schema(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_downgrade_to_base_and_back(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    downgrade(empty_engine, "base")
    assert not TABLES & set(inspect(empty_engine).get_table_names())
    upgrade(empty_engine)
    assert is_current(empty_engine)


def test_upgrade_twice_is_a_no_op(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    upgrade(empty_engine)
    assert is_current(empty_engine)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_processes_starting_at_once_migrate_once(empty_engine: Engine) -> None:
    """N containers starting together: each upgrades on its own connections, none fails."""
    url = empty_engine.url.render_as_string(hide_password=False)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def start_up() -> None:
        engine = make_engine(url)
        try:
            start.wait()
            upgrade(engine)
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start_up, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "an upgrade is stuck"
    assert not errors, errors
    assert is_current(empty_engine)
    with empty_engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    assert len(versions) == 1
