"""Queue control for enrichment: send items back to the workers after a model change."""

from datetime import datetime

from sqlalchemy import func, select, update
from sqlmodel import Session

from hub.enrichment.claims import FEEDBACK
from hub.feedback.models import NlpState


def reprocess(session: Session, *, since: datetime | None = None) -> int:
    """Mark items (created at or after ``since``, or all) pending again; returns how many."""
    c = FEEDBACK.c
    statement = update(FEEDBACK).values(
        nlp_state=NlpState.pending.value,
        nlp_attempts=0,
        nlp_error=None,
        nlp_lease_owner=None,
        nlp_lease_until=None,
    )
    if since is not None:
        statement = statement.where(c.created_at >= since)
    return session.connection().execute(statement).rowcount


def pending_count(session: Session) -> int:
    """How many items wait for enrichment."""
    c = FEEDBACK.c
    query = select(func.count()).select_from(FEEDBACK).where(c.nlp_state == NlpState.pending.value)
    return int(session.execute(query).scalar_one())
