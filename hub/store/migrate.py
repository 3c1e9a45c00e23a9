"""Alembic, driven from code: the same migrations on SQLite and PostgreSQL.

Upgrades run under a lock, so N containers (or an API and a worker) starting at once migrate
once: a PostgreSQL advisory lock, or a file lock beside a SQLite database. The others wait,
then find the schema current.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, select

MIGRATIONS = Path(__file__).parent / "migrations"
#: The advisory lock's key (any constant shared by every hub process): "hubmigr" in ASCII.
ADVISORY_LOCK_KEY = 0x6875626D69677200


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that runs on ``engine``'s connections (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision``, one process at a time."""
    with migration_lock(engine):
        command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Revert migrations down to ``revision`` ("base" empties the schema)."""
    with migration_lock(engine):
        command.downgrade(alembic_config(engine), revision)


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest migration."""
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Hold the database's migration lock (waiting for it) while the block runs."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(select(func.pg_advisory_lock(ADVISORY_LOCK_KEY)))
            connection.commit()  # the lock belongs to the connection, not to a transaction
            try:
                yield
            finally:
                connection.execute(select(func.pg_advisory_unlock(ADVISORY_LOCK_KEY)))
                connection.commit()
    elif engine.url.database and engine.url.database != ":memory:":
        with open(f"{engine.url.database}.migrate.lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file closes
            yield
    else:  # an in-memory SQLite database: only this process sees it
        yield
