"""Engine construction: SQLite in WAL mode with foreign keys on, or PostgreSQL through psycopg 3."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session


def normalise_url(url: str) -> str:
    """Pin PostgreSQL URLs to the psycopg 3 driver, which is the one installed."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Create an engine for ``url``; SQLite connections get the pragmas the hub relies on.

    Also installs the commit-time hooks (:mod:`hub.store.hooks`) that every session relies on.
    """
    from hub.store.hooks import install

    install()
    url = normalise_url(url)
    json_codec = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": 30}
        engine = create_engine(url, connect_args=connect_args, **json_codec)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, **json_codec
    )


def _json_dumps(value: Any) -> str:
    # orjson: several times faster than json.dumps on the ingest path; str for the drivers.
    return orjson.dumps(value, default=str).decode()


SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",  # readers never block the writer, nor the writer them
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",  # durable across app crashes; WAL keeps it consistent
    "PRAGMA busy_timeout=30000",  # wait for the write lock instead of failing at once
)


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
