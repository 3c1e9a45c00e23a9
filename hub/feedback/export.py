"""Feedback as CSV rows: every item a listing's filters match, read in bounded chunks."""

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from hub.cases.models import Case
from hub.feedback.models import FeedbackPublic
from hub.feedback.queries import FeedbackFilters, list_feedback
from hub.store.engine import session_scope

FEEDBACK_COLUMNS = (
    "id",
    "created_at",
    "source",
    "channel",
    "score_type",
    "score",
    "language",
    "sentiment",
    "sentiment_score",
    "topics",
    "customer_ref",
    "customer_email",
    "customer_name",
    "title",
    "text",
    "url",
    "case_id",
)
CHUNK = 500


def feedback_rows(
    engine: Engine, *, filters: FeedbackFilters, max_rows: int, chunk: int = CHUNK
) -> Iterator[list[dict[str, Any]]]:
    """Chunks of CSV rows, newest first, following the listing's cursor; at most ``max_rows``.

    Each chunk reads in a short session of its own, so a slow download holds no connection."""
    cursor: str | None = None
    left = max_rows
    while left > 0:
        with session_scope(engine) as session:
            page = list_feedback(session, filters=filters, cursor=cursor, limit=min(chunk, left))
            cases = _case_ids(session, [item.id for item in page.items])
        yield [_row(item, cases.get(item.id)) for item in page.items]
        left -= len(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return


def _case_ids(session: Session, feedback_ids: list[int]) -> dict[int, int]:
    if not feedback_ids:
        return {}
    pairs = session.exec(
        select(Case.feedback_id, Case.id).where(col(Case.feedback_id).in_(feedback_ids))
    ).all()
    return {feedback_id: case_id for feedback_id, case_id in pairs if case_id is not None}


def _row(item: FeedbackPublic, case_id: int | None) -> dict[str, Any]:
    customer = item.customer
    return {
        "id": item.id,
        "created_at": item.created_at,
        "source": item.source,
        "channel": item.channel.value,
        "score_type": item.score_type.value if item.score_type else None,
        "score": item.score,
        "language": item.language,
        "sentiment": item.sentiment,
        "sentiment_score": item.sentiment_score,
        "topics": [topic.key for topic in item.topics],
        "customer_ref": customer.ref if customer else None,
        "customer_email": customer.email if customer else None,
        "customer_name": customer.name if customer else None,
        "title": item.title,
        "text": item.text,
        "url": item.url,
        "case_id": case_id,
    }
