"""Finding, creating and updating customers named by ingested items."""

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from hub.customers.models import Customer, CustomerIn
from hub.store.types import utcnow
from hub.store.upsert import insert_rows_ignoring_conflicts


def resolve_customer_ids(session: Session, *, customers: Sequence[CustomerIn]) -> dict[str, int]:
    """Ids by customer key; missing customers are created, known ones take the newer details."""
    latest: dict[str, CustomerIn] = {}
    for customer in customers:  # later items in a batch carry the newer details
        latest[customer.key] = _merged(latest.get(customer.key), customer)
    if not latest:
        return {}
    existing = {
        row.external_ref: row
        for row in session.exec(select(Customer).where(col(Customer.external_ref).in_(latest)))
    }
    now = utcnow()
    new_rows = [
        _new_row(key, latest[key], now) for key in sorted(latest) if key not in existing
    ]  # sorted: one lock order for concurrent writers
    table = Customer.__table__  # type: ignore[attr-defined]
    insert_rows_ignoring_conflicts(
        session, table, new_rows, conflict_on=["external_ref"], returning=["id"]
    )
    for key, row in existing.items():
        _apply_details(row, latest[key], now)
    ids = {key: row.id for key, row in existing.items() if row.id is not None}
    missing = [key for key in latest if key not in ids]
    if missing:
        query = select(Customer.external_ref, Customer.id).where(
            col(Customer.external_ref).in_(missing)
        )
        ids |= {ref: customer_id for ref, customer_id in session.exec(query) if customer_id}
    return ids


def _merged(earlier: CustomerIn | None, later: CustomerIn) -> CustomerIn:
    if earlier is None:
        return later
    data = earlier.model_dump(exclude_none=True) | later.model_dump(exclude_none=True)
    if earlier.attributes and later.attributes:
        data["attributes"] = earlier.attributes | later.attributes
    return CustomerIn.model_validate(data)


def _new_row(key: str, given: CustomerIn, now: Any) -> dict[str, Any]:
    return {
        "external_ref": key,
        "email": str(given.email).lower() if given.email else None,
        "name": given.name,
        "segment": given.segment,
        "attributes": given.attributes or {},
        "created_at": now,
        "updated_at": now,
    }


def _apply_details(row: Customer, given: CustomerIn, now: Any) -> None:
    """Newer non-empty details win; attributes are merged key by key."""
    changes: dict[str, Any] = {}
    if given.email and str(given.email).lower() != row.email:
        changes["email"] = str(given.email).lower()
    if given.name and given.name != row.name:
        changes["name"] = given.name
    if given.segment and given.segment != row.segment:
        changes["segment"] = given.segment
    if given.attributes:
        merged = row.attributes | given.attributes
        if merged != row.attributes:
            changes["attributes"] = merged
    if changes:
        for field, value in changes.items():
            setattr(row, field, value)
        row.updated_at = now  # the row is loaded in the session: the flush writes it
