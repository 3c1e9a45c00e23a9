"""Claims: the one way a worker takes rows for itself (work items, leases, one-shot alerts).

A claim is one statement: ``UPDATE … WHERE id IN (SELECT id … FOR UPDATE SKIP LOCKED) …
RETURNING``. On PostgreSQL, claimers running at once never wait on each other nor take the same
row: a row another transaction is claiming is skipped, and once that claim commits the row no
longer matches. SQLite has one writer at a time (the UPDATE takes the write lock and sees the
newest data), so the same statement, without ``FOR UPDATE``, gives the same guarantee.

The claim condition is checked again on the UPDATE itself, so even a row read before another
claim committed is not taken twice. A lease is a claim that expires: ``lease_free`` is the
condition that lets a crashed worker's rows be claimed again.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, Row, ScalarSelect, Select, Table, or_, select, update
from sqlalchemy.orm import Mapped, Session


def claim(
    session: Session,
    table: Table,
    *,
    where: ColumnElement[bool],
    values: Mapping[str, Any],
    returning: Sequence[ColumnElement[Any]],
    order_by: Sequence[ColumnElement[Any]] = (),
    limit: int | None = None,
) -> Sequence[Row[Any]]:
    """Set ``values`` on up to ``limit`` rows matching ``where`` that no one else is claiming."""
    key = table.c.id
    claimable = (
        select(key)
        .where(where)
        .order_by(*order_by)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite runs one writer anyway
    )
    statement = (
        update(table)
        .where(key.in_(_run_once(session, claimable)), where)
        .values(dict(values))
        .returning(*returning)
    )
    return session.execute(statement).all()


def _run_once(session: Session, claimable: Select[Any]) -> Select[Any] | ScalarSelect[Any]:
    """PostgreSQL: a materialised CTE, since as a plain subquery the planner may run the SELECT
    again (each run skipping the rows the last one locked), claiming more than its limit.
    SQLite: a subquery (sqlite3 opens no transaction before a ``WITH`` statement)."""
    if session.get_bind().dialect.name != "postgresql":
        return claimable.scalar_subquery()
    cte = claimable.cte("claimable").prefix_with("MATERIALIZED")
    return select(cte.c.id)


def lease_free(
    until: Column[Any] | Mapped[Any],
    now: datetime,
    *,
    owner: Column[Any] | None = None,
    me: str = "",
) -> ColumnElement[bool]:
    """No lease, an expired one, or (given ``owner`` and ``me``) one ``me`` already holds."""
    free = or_(until.is_(None), until < now)
    return or_(free, owner == me) if owner is not None and me else free
