"""Collector tests run on a real SQLite file (the runner's own tests cover PostgreSQL too)."""

from collections.abc import Iterator

import pytest

from hub.store.engine import make_engine
from hub.store.migrate import upgrade
from tests.conftest import Database, empty_tables


@pytest.fixture(scope="session")
def collector_db_migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path_factory.mktemp('collectors') / 'hub.db'}"
    engine = make_engine(url)
    upgrade(engine)
    yield Database("sqlite", url, engine)
    engine.dispose()


@pytest.fixture
def collector_db(collector_db_migrated: Database) -> Iterator[Database]:
    """A migrated SQLite database, emptied after the test."""
    yield collector_db_migrated
    empty_tables(collector_db_migrated.engine)
