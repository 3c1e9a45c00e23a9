"""Insert-or-ignore that works the same on SQLite and PostgreSQL."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session


def insert_ignoring_conflicts(
    session: Session, table: Table, *, conflict_on: Sequence[str]
) -> Insert:
    """An INSERT that skips rows violating the unique key ``conflict_on`` (raced or re-sent)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(conflict_on))
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(conflict_on))


def insert_rows_ignoring_conflicts(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    conflict_on: Sequence[str],
    returning: Sequence[str],
) -> list[Any]:
    """Insert ``rows`` in one round of statements, returning ``returning`` of those inserted."""
    if not rows:
        return []
    stmt = insert_ignoring_conflicts(session, table, conflict_on=conflict_on).returning(
        *(table.c[name] for name in returning)
    )
    return list(session.execute(stmt, rows).all())
