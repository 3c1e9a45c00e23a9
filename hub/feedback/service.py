"""Ingest: validate and normalise items, then upsert them idempotently on (source, external_id)."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from pydantic import ValidationError
from sqlmodel import Session, col, select

from hub.customers.models import CustomerDetails
from hub.customers.service import resolve_customer_ids
from hub.feedback.json_input import UnreadableItem
from hub.feedback.models import (
    Feedback,
    FeedbackIn,
    IngestResult,
    IngestSummary,
    ItemError,
    NlpState,
)
from hub.metrics.service import record_new
from hub.observability.metrics import count_ingested
from hub.sources.service import resolve_source_ids
from hub.store.types import utcnow
from hub.store.upsert import insert_new_rows, lock_for_writing
from hub.store.wakeups import FEEDBACK_PENDING, announce

Key = tuple[int, str]  # (source_id, external_id)


@dataclass(slots=True)
class PreparedItem:
    """An item that passed validation, reduced to plain values: ready to store, cheap to pickle.

    ``values`` are its feedback columns except those the store fills (ids, ``received_at``).
    """

    index: int
    source: str
    external_id: str
    customer: CustomerDetails | None
    values: dict[str, Any]

    @classmethod
    def of(cls, index: int, item: FeedbackIn) -> "PreparedItem":
        """Prepare a validated item found at ``index`` of its batch."""
        values = {
            "external_id": item.external_id,
            "channel": item.channel._value_,  # _value_: a plain attribute, unlike .value
            "text": item.text,
            "title": item.title,
            "score_type": item.score_type._value_ if item.score_type else None,
            "score": item.score,
            "answers": item.answers,
            "author": item.author,
            "url": item.url,
            "created_at": item.created_at,
            "metadata": item.metadata,
            "content_hash": item.content_hash(),
            "nlp_state": NlpState.pending._value_,
            "nlp_attempts": 0,
        }
        customer = item.customer.details() if item.customer else None
        return cls(index, item.source, item.external_id, customer, values)


def validate_items(
    raw_items: Sequence[Any], *, default_source: str | None = None, derive_external_id: bool = False
) -> tuple[list[PreparedItem], list[IngestResult]]:
    """Split raw items into valid ones and rejections that name each bad field."""
    accepted: list[PreparedItem] = []
    rejected: list[IngestResult] = []
    for index, raw in enumerate(raw_items):
        if not isinstance(raw, dict):
            reason = (
                raw.reason if isinstance(raw, UnreadableItem) else "an item must be a JSON object"
            )
            rejected.append(_rejected(index, {}, [ItemError(loc=[], message=reason)]))
            continue
        data = raw
        try:
            if default_source is not None and not raw.get("source"):
                data = {**data, "source": default_source}
            if derive_external_id and not raw.get("external_id"):
                data = {**data, "external_id": _derived_external_id(raw)}
            accepted.append(PreparedItem.of(index, FeedbackIn.model_validate(data)))
        except ValidationError as exc:
            rejected.append(_rejected(index, data, item_errors(exc)))
        except (ValueError, TypeError, RecursionError) as exc:  # whatever else one item can break
            rejected.append(_rejected(index, data, [ItemError(loc=[], message=str(exc))]))
    return accepted, rejected


def _rejected(index: int, data: dict[str, Any], errors: list[ItemError]) -> IngestResult:
    source, external_id = data.get("source"), data.get("external_id")
    return IngestResult(
        index=index,
        status="rejected",
        source=_str_or_none(source),
        external_id=_str_or_none(external_id),
        errors=errors,
    )


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
    session: Session,
    *,
    items: Sequence[PreparedItem],
    source_kind: str = "api",
    seen_customers: dict[str, tuple[int, CustomerDetails]] | None = None,
) -> list[IngestResult]:
    """Upsert valid items idempotently on (source, external_id); a re-send is a duplicate.

    ``seen_customers`` lets a multi-batch import skip re-reading customers it already resolved.
    """
    if not items:
        return []
    lock_for_writing(session)
    source_ids = resolve_source_ids(session, names={i.source for i in items}, kind=source_kind)
    customer_ids = resolve_customer_ids(
        session, customers=[i.customer for i in items if i.customer], seen=seen_customers
    )
    keyed = [((source_ids[i.source], i.external_id), i) for i in items]
    now = utcnow()
    rows: dict[Key, dict[str, Any]] = {}
    first_index: dict[Key, int] = {}  # a key sent twice in one batch: the first one is created
    for key, item in keyed:
        if key not in rows:
            customer_id = customer_ids[item.customer.key] if item.customer else None
            row = rows[key] = item.values  # completed in place: the prepared item is ours
            row["source_id"] = key[0]
            row["customer_id"] = customer_id
            row["created_at"] = row["created_at"] or now
            row["received_at"] = now
            first_index[key] = item.index
    table = Feedback.__table__  # type: ignore[attr-defined]
    # One lock order for every writer (sorted keys), so concurrent batches cannot deadlock.
    ordered = [rows[key] for key in sorted(rows)]
    created = insert_new_rows(session, table, ordered, key=["source_id", "external_id"])
    record_new(session, [rows[key] for key in sorted(created)])  # duplicates add nothing
    count_ingested(source_kind, len(created))  # by kind: source names come from callers
    if created:
        announce(session, FEEDBACK_PENDING)  # wakes an idle NLP worker once this commits
    stored = {key: (feedback_id, rows[key]["content_hash"]) for key, feedback_id in created.items()}
    stored |= _stored_by_key(session, set(rows) - created.keys())  # sent before (or raced)
    return [_result(key, item, created, first_index, stored) for key, item in keyed]


def _result(
    key: Key,
    item: PreparedItem,
    created: dict[Key, int],
    first_index: dict[Key, int],
    stored: dict[Key, tuple[int, str]],
) -> IngestResult:
    stored_id, stored_hash = stored[key]
    status: Literal["created", "duplicate"] = "duplicate"
    note = None
    if key in created and first_index[key] == item.index:
        status = "created"
    elif stored_hash != item.values["content_hash"]:
        note = "already stored with different content; the stored item is kept"
    return IngestResult(item.index, status, stored_id, item.source, item.external_id, note)


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


def _derived_external_id(raw: dict[str, Any]) -> str:
    """A stable id for an imported line that has none, so re-imports find it again."""
    encoded = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS, default=str)
    return "sha256:" + hashlib.sha256(encoded).hexdigest()[:32]


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
