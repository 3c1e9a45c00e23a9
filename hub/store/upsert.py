"""Insert-if-new for idempotent ingest, the same contract on SQLite and PostgreSQL.

PostgreSQL: ``INSERT … ON CONFLICT DO NOTHING RETURNING`` tells which rows this call inserted;
concurrent writers are fine. SQLite allows one writer at a time, so callers take the write lock
first (:func:`lock_for_writing`); then a plain ``executemany`` with ``ON CONFLICT DO NOTHING`` —
several times faster than SQLAlchemy's per-row parameter handling — inserts the new rows, and
they are exactly the rows above the highest id seen before (no other writer can add one).
"""

from collections.abc import Sequence
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.dml import ReturningInsert
from sqlmodel import Session

Key = tuple[Any, ...]


def lock_for_writing(session: Session) -> None:
    """SQLite: take the database's write lock now (WAL readers are not blocked); else nothing.

    Between checking which keys exist and inserting, no other writer can then add one.
    """
    if not _is_sqlite(session):
        return
    driver = session.connection().connection.driver_connection
    # sqlite3 opens a transaction only before a write, which takes the lock: if one is open,
    # the lock is already ours. Otherwise any write statement takes it, even a no-op.
    if not driver.in_transaction:  # type: ignore[union-attr]
        session.execute(text("UPDATE source SET id = id WHERE 0"))


def insert_new_rows(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, key: Sequence[str]
) -> dict[Key, int]:
    """Insert ``rows`` whose ``key`` is not taken; the ids of those this call inserted, by key."""
    if not rows:
        return {}
    if _is_sqlite(session):
        return _sqlite_insert_all(session, table, rows, key=key)
    statement = _insert_new_statement(table, tuple(key))
    return {tuple(row[1:]): row[0] for row in session.execute(statement, list(rows))}


@cache
def _insert_new_statement(table: Table, key: tuple[str, ...]) -> ReturningInsert[Any]:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING id, key``, built once per table and key."""
    return (
        postgresql.insert(table)
        .on_conflict_do_nothing(index_elements=list(key))
        .returning(table.c.id, *(table.c[name] for name in key))
    )


def _sqlite_insert_all(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, key: Sequence[str]
) -> dict[Key, int]:
    highest_before = session.execute(select(func.max(table.c.id))).scalar() or 0
    names = list(rows[0])
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(_insert_sql(table, names, key), _encoded(session, table, names, rows))
    finally:
        cursor.close()
    query = select(table.c.id, *(table.c[name] for name in key)).where(table.c.id > highest_before)
    return {tuple(row[1:]): row[0] for row in session.execute(query).all()}


def _insert_sql(table: Table, names: Sequence[str], key: Sequence[str]) -> str:
    columns = ", ".join(f'"{name}"' for name in names)
    marks = ", ".join("?" for _ in names)
    conflict = ", ".join(f'"{name}"' for name in key)
    return (
        f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks}) '  # noqa: S608 (names are ours)
        f"ON CONFLICT ({conflict}) DO NOTHING"
    )


def _encoded(
    session: Session, table: Table, names: Sequence[str], rows: Sequence[dict[str, Any]]
) -> list[list[Any]]:
    """Row values as the driver takes them, through each column type's own bind processor."""
    dialect = session.get_bind().dialect
    values = [list(row) for row in map(itemgetter(*names), rows)]
    for index, name in enumerate(names):
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if processor is None:
            continue
        given: Any = None
        encoded: Any = None
        for value in values:  # column by column; a value shared by the batch is encoded once
            current = value[index]
            if current is None:  # NULL for every type here (JSON columns store None as NULL)
                continue
            if current is not given:
                given, encoded = current, processor(current)
            value[index] = encoded
    return values


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"
