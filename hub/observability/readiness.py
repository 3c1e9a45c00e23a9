"""Readiness: the database answers and its schema is at the newest migration."""

from dataclasses import dataclass
from functools import cache

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from hub.store.migrate import MIGRATIONS


@dataclass(frozen=True)
class Readiness:
    """Whether to send traffic here, and if not, why."""

    ready: bool
    reason: str
    revision: str | None  # the database's, when it answered
    head: str  # the newest migration this code ships


@cache
def script_head() -> str:
    """The newest migration this code ships (read once: the files do not change)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None, "the migrations have one head"
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's migration revision (None before the first migration)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check(engine: Engine) -> Readiness:
    """Ready when the database answers and is at ``script_head``."""
    head = script_head()
    try:
        revision = current_revision(engine)
    except Exception as exc:  # unreachable, refused, wrong credentials: say which, not the URL
        return Readiness(False, f"database unreachable ({type(exc).__name__})", None, head)
    if revision != head:
        reason = f"migrations not current: database at {revision or 'none'}, code at {head}"
        return Readiness(False, reason, revision, head)
    return Readiness(True, "ok", revision, head)
