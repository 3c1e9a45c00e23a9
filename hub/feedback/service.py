"""Ingest (validate, normalise, idempotent upsert) and reading of feedback."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
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
from hub.store.upsert import insert_new_rows, lock_for_writing

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
    lock_for_writing(session)
    source_ids = resolve_source_ids(session, names={a.item.source for a in items}, kind=source_kind)
    customer_ids = resolve_customer_ids(
        session, customers=[a.item.customer for a in items if a.item.customer]
    )
    keyed = [((source_ids[a.item.source], a.item.external_id), a) for a in items]
    stored = _stored_by_key(session, {key for key, _ in keyed})
    now = utcnow()
    rows: dict[Key, dict[str, Any]] = {}
    first_index: dict[Key, int] = {}  # a key sent twice in one batch: the first one is created
    for key, accepted in keyed:
        if key not in stored and key not in rows:
            customer = accepted.item.customer
            customer_id = customer_ids[customer.key] if customer else None
            rows[key] = _row(accepted.item, key[0], customer_id, now)
            first_index[key] = accepted.index
    table = Feedback.__table__  # type: ignore[attr-defined]
    # One lock order for every writer (sorted keys), so concurrent batches cannot deadlock.
    ordered = [rows[key] for key in sorted(rows)]
    created = insert_new_rows(session, table, ordered, key=["source_id", "external_id"])
    for key, feedback_id in created.items():
        stored[key] = (feedback_id, rows[key]["content_hash"])
    raced = set(rows) - created.keys()  # PostgreSQL: inserted by a concurrent writer meanwhile
    if raced:
        stored |= _stored_by_key(session, raced)
    return [_result(key, a, created, first_index, stored) for key, a in keyed]


def _result(
    key: Key,
    accepted: Accepted,
    created: dict[Key, int],
    first_index: dict[Key, int],
    stored: dict[Key, tuple[int, str]],
) -> IngestResult:
    item = accepted.item
    stored_id, stored_hash = stored[key]
    status: Literal["created", "duplicate"] = "duplicate"
    note = None
    if key in created and first_index[key] == accepted.index:
        status = "created"
    else:
        if stored_hash != item.content_hash():
            note = "already stored with different content; the stored item is kept"
    return IngestResult(
        index=accepted.index,
        status=status,
        id=stored_id,
        source=item.source,
        external_id=item.external_id,
        note=note,
    )


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


def _row(
    item: FeedbackIn, source_id: int, customer_id: int | None, now: datetime
) -> dict[str, Any]:
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
    encoded = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS, default=str)
    return "sha256:" + hashlib.sha256(encoded).hexdigest()[:32]


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
