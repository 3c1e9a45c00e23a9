"""Finding, creating and updating customers named by ingested items."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlmodel import Session, col, select

from hub.customers.models import Customer, CustomerDetails
from hub.metrics.service import segment_change
from hub.store.types import utcnow
from hub.store.upsert import insert_new_rows, lock_for_writing

DETAILS = ("email", "name", "segment")


def resolve_customer_ids(
    session: Session,
    *,
    customers: Sequence[CustomerDetails],
    seen: dict[str, tuple[int, CustomerDetails]] | None = None,
) -> dict[str, int]:
    """Ids by customer key; missing customers are created, known ones take the newer details.

    ``seen`` carries what earlier batches of one import resolved, so customers that recur
    unchanged are not read again batch after batch.
    """
    latest: dict[str, CustomerDetails] = {}
    for customer in customers:  # later items in a batch carry the newer details
        latest[customer.key] = _merged(latest.get(customer.key), customer)
    if seen is None:
        seen = {}
    ids = {
        key: seen[key][0] for key, given in latest.items() if seen.get(key, (0, None))[1] == given
    }
    latest = {key: given for key, given in latest.items() if key not in ids}
    if latest:
        ids |= _resolve(session, latest)
        seen |= {key: (ids[key], given) for key, given in latest.items()}
    return ids


def _resolve(session: Session, latest: dict[str, CustomerDetails]) -> dict[str, int]:
    lock_for_writing(session)
    table = Customer.__table__  # type: ignore[attr-defined]
    columns = [table.c[name] for name in ("external_ref", "id", *DETAILS, "attributes")]
    query = sa_select(*columns).where(col(Customer.external_ref).in_(latest))
    existing = {row[0]: tuple(row) for row in session.execute(query)}
    if existing and session.get_bind().dialect.name == "postgresql":
        existing = _locked(session, query, existing, latest)
    now = utcnow()
    new_rows = [_new_row(key, latest[key], now) for key in sorted(latest) if key not in existing]
    insert_new_rows(session, table, new_rows, key=["external_ref"])
    for ref, customer_id, *stored in existing.values():
        changes = _changes(dict(zip((*DETAILS, "attributes"), stored, strict=True)), latest[ref])
        if changes:
            _update(session, customer_id, changes | {"updated_at": now})
    ids = {ref: row[1] for ref, row in existing.items()}
    if new_rows:
        query = select(Customer.external_ref, Customer.id).where(
            col(Customer.external_ref).in_([row["external_ref"] for row in new_rows])
        )
        ids |= {ref: customer_id for ref, customer_id in session.exec(query)}
    return ids


def _locked(
    session: Session,
    query: Any,
    existing: dict[str, tuple[Any, ...]],
    latest: dict[str, CustomerDetails],
) -> dict[str, tuple[Any, ...]]:
    """PostgreSQL: the batch's known customers read again under a lock taken in id order, all
    in one mode — ``FOR NO KEY UPDATE`` when one of their segments changes, else ``FOR SHARE``
    (what a segment change waits for). Taking every customer lock of the batch up front, in one
    order, keeps two ingests that share customers from waiting on each other in a circle."""
    changes_segment = any(
        latest[ref].segment and latest[ref].segment != row[DETAILS.index("segment") + 2]
        for ref, row in existing.items()
    )
    locked = query.order_by(col(Customer.id)).with_for_update(
        read=not changes_segment, key_share=changes_segment
    )
    return {row[0]: tuple(row) for row in session.execute(locked)}


def _update(session: Session, customer_id: int, changes: dict[str, Any]) -> None:
    """Store a customer's new details; a new segment moves their feedback in the rollups."""
    statement = update(Customer).where(col(Customer.id) == customer_id).values(**changes)
    if "segment" not in changes:
        session.execute(statement)
        return
    with segment_change(session, customer_id):
        session.execute(statement)


def _merged(earlier: CustomerDetails | None, later: CustomerDetails) -> CustomerDetails:
    if earlier is None or earlier == later:
        return later
    newer = {name: getattr(later, name) for name in DETAILS if getattr(later, name) is not None}
    attributes = later.attributes or earlier.attributes
    if earlier.attributes and later.attributes:
        attributes = earlier.attributes | later.attributes
    return replace(earlier, **newer, attributes=attributes)


def _new_row(key: str, given: CustomerDetails, now: datetime) -> dict[str, Any]:
    return {
        "external_ref": key,
        "email": given.email,
        "name": given.name,
        "segment": given.segment,
        "attributes": given.attributes or {},
        "created_at": now,
        "updated_at": now,
    }


def _changes(stored: dict[str, Any], given: CustomerDetails) -> dict[str, Any]:
    """Newer non-empty details win; attributes are merged key by key."""
    changes = {
        field: getattr(given, field)
        for field in DETAILS
        if getattr(given, field) and getattr(given, field) != stored[field]
    }
    if given.attributes:
        merged = stored["attributes"] | given.attributes
        if merged != stored["attributes"]:
            changes["attributes"] = merged
    return changes
