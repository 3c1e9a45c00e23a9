"""Leases on pending feedback: claim a batch, write its results, record failures.

A claim sets an owner and an expiry (``hub.store.leases``: PostgreSQL workers never wait on each
other nor share an item; SQLite runs the claim as one UPDATE, with its one writer). A worker
that dies leaves its claim to expire, and only the current owner can write results, so a slow
worker whose lease was taken over writes nothing.

A claimed item carries a *language hint*: what the item itself says of its language, which the
language detector uses as a prior. See :data:`ITEM_HINT_KEYS` and :data:`CUSTOMER_HINT_KEYS`.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, Row, Table, and_, bindparam, or_, select, update
from sqlmodel import Session

from hub.customers.models import Customer
from hub.feedback.models import Feedback, NlpState
from hub.metrics.service import tracking
from hub.store.leases import claim, lease_free
from hub.store.types import utcnow

FEEDBACK: Table = Feedback.__table__  # type: ignore[attr-defined]
CUSTOMER: Table = Customer.__table__  # type: ignore[attr-defined]

#: Keys of the feedback's metadata that name its language, most trusted first: the widget posts
#: the browser's ``locale`` ("pt-BR"); collectors keep the source's claim as ``source_language``.
ITEM_HINT_KEYS = ("locale", "source_language")
#: Keys of the customer's attributes that name their language, used when the item names none.
CUSTOMER_HINT_KEYS = ("language", "locale")

_CODE = re.compile(r"[a-z]{2}")


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed item: its id, what to analyse, and how many times it was claimed so far.

    ``language_hint``: the ISO 639-1 code the item or its customer claims, if any.
    """

    id: int
    text: str
    attempts: int
    language_hint: str | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """An item the pipeline could not process."""

    id: int
    error: str
    attempts: int


def claim_batch(session: Session, *, owner: str, size: int, lease: timedelta) -> list[Claimed]:
    """Claim up to ``size`` pending items (oldest first) whose earlier claim, if any, expired."""
    now = utcnow()
    c = FEEDBACK.c
    rows = claim(
        session,
        FEEDBACK,
        where=and_(c.nlp_state == NlpState.pending.value, lease_free(c.nlp_lease_until, now)),
        values={
            "nlp_lease_owner": owner,
            "nlp_lease_until": now + lease,
            "nlp_attempts": c.nlp_attempts + 1,
        },
        returning=[
            c.id,
            c.title,
            c.text,
            c.nlp_attempts,
            c.customer_id,
            *_hints(c.metadata, ITEM_HINT_KEYS),
        ],
        order_by=[c.id],
        limit=size,
    )
    item_hints = {row.id: _first_code(row, ITEM_HINT_KEYS) for row in rows}
    customer_hints = _customer_hints(
        session, {row.customer_id for row in rows if row.customer_id and not item_hints[row.id]}
    )
    return sorted(
        (
            Claimed(
                row.id,
                _analysed_text(row.title, row.text),
                row.nlp_attempts,
                item_hints[row.id] or customer_hints.get(row.customer_id),
            )
            for row in rows
        ),
        key=lambda claimed: claimed.id,
    )


def language_code(value: object) -> str | None:
    """An ISO 639-1 code from a locale or code ("pt-BR", "pt_BR", "PT" -> "pt"), else None."""
    if not isinstance(value, str):
        return None
    code = value.strip().lower().replace("_", "-").split("-", 1)[0]
    return code if _CODE.fullmatch(code) else None


def _hints(column: ColumnElement[object], keys: Sequence[str]) -> list[ColumnElement[str]]:
    """The JSON values under ``keys`` as text (JSON_EXTRACT on SQLite, ->> on PostgreSQL)."""
    return [column[key].as_string().label(f"hint_{key}") for key in keys]


def _first_code(row: Row[object], keys: Sequence[str]) -> str | None:
    """The first of the row's hint columns that holds a language code."""
    for key in keys:
        if code := language_code(getattr(row, f"hint_{key}")):
            return code
    return None


def _customer_hints(session: Session, ids: set[int]) -> dict[int, str]:
    """The language each customer's attributes name (one query for the batch)."""
    if not ids:
        return {}
    c = CUSTOMER.c
    query = select(c.id, *_hints(c.attributes, CUSTOMER_HINT_KEYS)).where(c.id.in_(sorted(ids)))
    hints = {row.id: _first_code(row, CUSTOMER_HINT_KEYS) for row in session.execute(query)}
    return {customer: code for customer, code in hints.items() if code}


def write_results(
    session: Session, *, owner: str, model: str, results: dict[int, dict[str, object]]
) -> int:
    """Store results of items this owner still holds; returns how many were written."""
    if not results:
        return 0
    c = FEEDBACK.c
    columns = sorted({column for values in results.values() for column in values})
    statement = (
        update(FEEDBACK)
        .where(and_(c.id == bindparam("item_id"), c.nlp_lease_owner == owner))
        .values(
            {
                **{column: bindparam(f"v_{column}") for column in columns},
                "nlp_state": NlpState.done.value,
                "nlp_model": model,
                "nlp_error": None,
                "nlp_lease_owner": None,
                "nlp_lease_until": None,
            }
        )
    )
    parameters = [
        {"item_id": item_id, **{f"v_{column}": values.get(column) for column in columns}}
        for item_id, values in results.items()
    ]
    with tracking(session, results):  # the language moves items between rollup rows
        return session.connection().execute(statement, parameters).rowcount


def write_sentiments(
    session: Session, *, owner: str, sentiments: dict[int, tuple[str, float, float]]
) -> None:
    """The model's (label, score, confidence) per item; a person's correction is kept."""
    if not sentiments:
        return
    c = FEEDBACK.c
    statement = (
        update(FEEDBACK)
        .where(c.id == bindparam("item_id"), c.nlp_lease_owner == owner)
        .where(or_(c.sentiment_by.is_(None), c.sentiment_by != "person"))
        .values(
            sentiment=bindparam("v_label"),
            sentiment_score=bindparam("v_score"),
            sentiment_confidence=bindparam("v_confidence"),
            sentiment_by="model",
        )
    )
    parameters = [
        {"item_id": item_id, "v_label": label, "v_score": score, "v_confidence": confidence}
        for item_id, (label, score, confidence) in sentiments.items()
    ]
    with tracking(session, sentiments):
        session.connection().execute(statement, parameters)


def still_owned(session: Session, *, owner: str, ids: list[int]) -> list[int]:
    """Which of ``ids`` this owner still holds (a lease may have expired and moved on)."""
    c = FEEDBACK.c
    query = select(c.id).where(c.id.in_(ids), c.nlp_lease_owner == owner)
    return [row.id for row in session.execute(query)]


def record_failures(
    session: Session,
    *,
    owner: str,
    failures: list[Failure],
    max_attempts: int,
    retry_after: timedelta,
) -> None:
    """Failed items are retried after ``retry_after``, or marked failed after ``max_attempts``."""
    c = FEEDBACK.c
    now = utcnow()
    for failure in failures:
        final = failure.attempts >= max_attempts
        session.execute(
            update(FEEDBACK)
            .where(and_(c.id == failure.id, c.nlp_lease_owner == owner))
            .values(
                nlp_state=NlpState.failed.value if final else NlpState.pending.value,
                nlp_error=failure.error[:2000],
                nlp_lease_owner=None,
                nlp_lease_until=None if final else now + retry_after * failure.attempts,
            )
        )


def _analysed_text(title: str | None, text: str | None) -> str:
    return ". ".join(part for part in (title, text) if part)
