"""How much feedback each topic has, read from the topic rollup (never from feedback)."""

from datetime import timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from hub.metrics.service import TOPIC_ROLLUP
from hub.store.types import utcnow


def item_counts(session: Session, *, days: int | None = None) -> dict[int, int]:
    """Items per topic id (an item counts once per topic), of the last ``days`` UTC days or all."""
    r = TOPIC_ROLLUP.c
    query = select(r.topic_id, func.sum(r.n)).group_by(r.topic_id)
    if days is not None:
        query = query.where(r.day > utcnow().date() - timedelta(days=days))
    return {topic_id: int(count) for topic_id, count in session.execute(query) if count}
