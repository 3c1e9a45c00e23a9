"""Insert-if-new for idempotent ingest, the same contract on SQLite and PostgreSQL.

PostgreSQL: ``INSERT … ON CONFLICT DO NOTHING RETURNING`` tells which rows this call inserted;
concurrent writers are fine. SQLite allows one writer at a time, so callers take the write lock
first (:func:`lock_for_writing`); then no row can be raced, a plain ``executemany`` — several
times faster than SQLAlchemy's per-row parameter handling — inserts every new row, and the new
rows are exactly those above the highest id seen before.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

Key = tuple[Any, ...]


def lock_for_writing(session: Session) -> None:
    """SQLite: take the database's write lock now (WAL readers are not blocked); else nothing.

    Between checking which keys exist and inserting, no other writer can then add one.
    """
    if _is_sqlite(session):
        # Any write statement takes the lock, even one that changes nothing.
        session.execute(text("UPDATE source SET id = id WHERE 0"))


def insert_new_rows(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, key: Sequence[str]
) -> dict[Key, int]:
    """Insert ``rows`` whose ``key`` is not taken; the ids of those this call inserted, by key."""
    if not rows:
        return {}
    if _is_sqlite(session):
        return _sqlite_insert_all(session, table, rows, key=key)
    statement = (
        postgresql.insert(table)
        .on_conflict_do_nothing(index_elements=list(key))
        .returning(table.c.id, *(table.c[name] for name in key))
    )
    return {tuple(row[1:]): row[0] for row in session.execute(statement, list(rows))}


def _sqlite_insert_all(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, key: Sequence[str]
) -> dict[Key, int]:
    highest_before = session.execute(select(func.max(table.c.id))).scalar() or 0
    names = list(rows[0])
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(_insert_sql(table, names, key), _encoded(session, table, names, rows))
        inserted = cursor.rowcount
    finally:
        cursor.close()
    if inserted != len(rows):  # only possible without lock_for_writing: refuse to guess
        raise RuntimeError(f"{len(rows) - inserted} rows of {table.name} were written concurrently")
    query = select(table.c.id, *(table.c[name] for name in key)).where(table.c.id > highest_before)
    return {tuple(row[1:]): row[0] for row in session.execute(query)}


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
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    encode = [(index, p) for index, p in enumerate(processors) if p is not None]
    last: dict[int, tuple[Any, Any]] = {}  # a batch shares values (received_at): encode once
    values = []
    for row in rows:
        value = [row[name] for name in names]
        for index, processor in encode:
            given = value[index]
            seen = last.get(index)
            if seen is not None and seen[0] is given:
                value[index] = seen[1]
            else:
                value[index] = processor(given)
                last[index] = (given, value[index])
        values.append(value)
    return values


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"
