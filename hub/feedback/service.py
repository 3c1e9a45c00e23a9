"""Ingest (validate, normalise, idempotent upsert) and reading of feedback."""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from hub.customers.service import resolve_customer_ids
from hub.feedback.models import (
    Feedback,
    FeedbackIn,
    IngestResult,
    IngestSummary,
    ItemError,
    NlpState,
)
from hub.sources.service import resolve_source_ids
from hub.store.types import utcnow
from hub.store.upsert import insert_rows_ignoring_conflicts

Key = tuple[int, str]  # (source_id, external_id)


@dataclass(frozen=True)
class Accepted:
    """An item that passed validation, with its position in the input."""

    index: int
    item: FeedbackIn


def validate_items(
    raw_items: Sequence[Any], *, default_source: str | None = None, derive_external_id: bool = False
) -> tuple[list[Accepted], list[IngestResult]]:
    """Split raw items into valid ones and rejections that name each bad field."""
    accepted: list[Accepted] = []
    rejected: list[IngestResult] = []
    for index, raw in enumerate(raw_items):
        if not isinstance(raw, dict):
            errors = [ItemError(loc=[], message="an item must be a JSON object")]
            rejected.append(IngestResult(index=index, status="rejected", errors=errors))
            continue
        data = dict(raw)
        if default_source is not None and not data.get("source"):
            data["source"] = default_source
        if derive_external_id and not data.get("external_id"):
            data["external_id"] = _derived_external_id(raw)
        try:
            accepted.append(Accepted(index, FeedbackIn.model_validate(data)))
        except ValidationError as exc:
            rejected.append(
                IngestResult(
                    index=index,
                    status="rejected",
                    source=_str_or_none(data.get("source")),
                    external_id=_str_or_none(data.get("external_id")),
                    errors=item_errors(exc),
                )
            )
    return accepted, rejected


def item_errors(exc: ValidationError) -> list[ItemError]:
    """Pydantic's errors as field paths and messages (without pydantic's prefixes)."""
    errors = []
    for error in exc.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        errors.append(ItemError(loc=list(error["loc"]), message=message))
    return errors


def ingest(
    session: Session,
    *,
    raw_items: Sequence[Any],
    source_kind: str = "api",
    default_source: str | None = None,
    derive_external_id: bool = False,
) -> IngestSummary:
    """Validate and store a batch; each item is created, found a duplicate, or rejected."""
    accepted, rejected = validate_items(
        raw_items, default_source=default_source, derive_external_id=derive_external_id
    )
    results = rejected + store_items(session, items=accepted, source_kind=source_kind)
    results.sort(key=lambda result: result.index)
    counts = {status: 0 for status in ("created", "duplicate", "rejected")}
    for result in results:
        counts[result.status] += 1
    return IngestSummary(**counts, results=results)


def store_items(
    session: Session, *, items: Sequence[Accepted], source_kind: str = "api"
) -> list[IngestResult]:
    """Upsert valid items idempotently on (source, external_id); a re-send is a duplicate."""
    if not items:
        return []
    source_ids = resolve_source_ids(session, names={a.item.source for a in items}, kind=source_kind)
    customer_ids = resolve_customer_ids(
        session, customers=[a.item.customer for a in items if a.item.customer]
    )
    stored = _stored_by_key(
        session, {(source_ids[a.item.source], a.item.external_id) for a in items}
    )
    rows: dict[Key, dict[str, Any]] = {}
    first_index: dict[Key, int] = {}  # a key sent twice in one batch: the first one is created
    for accepted in items:
        key = (source_ids[accepted.item.source], accepted.item.external_id)
        if key not in stored and key not in rows:
            customer = accepted.item.customer
            rows[key] = _row(
                accepted.item, key[0], customer_ids[customer.key] if customer else None
            )
            first_index[key] = accepted.index
    table = Feedback.__table__  # type: ignore[attr-defined]
    inserted = insert_rows_ignoring_conflicts(
        session,
        table,
        [rows[key] for key in sorted(rows)],  # one lock order for all writers: no deadlocks
        conflict_on=["source_id", "external_id"],
        returning=["id", "source_id", "external_id"],
    )
    created = {(row.source_id, row.external_id): row.id for row in inserted}
    raced = set(rows) - created.keys()  # inserted by a concurrent writer since we looked
    stored |= _stored_by_key(session, raced)
    for key, feedback_id in created.items():
        stored[key] = (feedback_id, rows[key]["content_hash"])
    return [_result(a, source_ids, created, first_index, stored) for a in items]


def _result(
    accepted: Accepted,
    source_ids: dict[str, int],
    created: dict[Key, int],
    first_index: dict[Key, int],
    stored: dict[Key, tuple[int, str]],
) -> IngestResult:
    item = accepted.item
    key = (source_ids[item.source], item.external_id)
    common = {"index": accepted.index, "source": item.source, "external_id": item.external_id}
    if key in created and first_index[key] == accepted.index:
        return IngestResult(status="created", id=created[key], **common)
    stored_id, stored_hash = stored[key]
    note = None
    if stored_hash != item.content_hash():
        note = "already stored with different content; the stored item is kept"
    return IngestResult(status="duplicate", id=stored_id, note=note, **common)


def _stored_by_key(session: Session, keys: set[Key]) -> dict[Key, tuple[int, str]]:
    """(id, content_hash) of already stored items, by key; one query per source."""
    found: dict[Key, tuple[int, str]] = {}
    by_source: dict[int, list[str]] = {}
    for source_id, external_id in keys:
        by_source.setdefault(source_id, []).append(external_id)
    for source_id, external_ids in by_source.items():
        query = select(Feedback.id, Feedback.external_id, Feedback.content_hash).where(
            Feedback.source_id == source_id, col(Feedback.external_id).in_(external_ids)
        )
        for feedback_id, external_id, content_hash in session.exec(query):
            assert feedback_id is not None
            found[(source_id, external_id)] = (feedback_id, content_hash)
    return found


def _row(item: FeedbackIn, source_id: int, customer_id: int | None) -> dict[str, Any]:
    now = utcnow()
    return {
        "source_id": source_id,
        "external_id": item.external_id,
        "channel": item.channel.value,
        "text": item.text,
        "title": item.title,
        "score_type": item.score_type.value if item.score_type else None,
        "score": item.score,
        "answers": item.answers,
        "author": item.author,
        "customer_id": customer_id,
        "url": item.url,
        "created_at": item.created_at or now,
        "received_at": now,
        "metadata": item.metadata,
        "content_hash": item.content_hash(),
        "nlp_state": NlpState.pending.value,
        "nlp_attempts": 0,
    }


def _derived_external_id(raw: dict[str, Any]) -> str:
    """A stable id for an imported line that has none, so re-imports find it again."""
    encoded = json.dumps(raw, ensure_ascii=False, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(encoded.encode()).hexdigest()[:32]


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
