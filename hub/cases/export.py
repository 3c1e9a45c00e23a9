"""Cases as CSV rows: a whole queue, in its order, read in bounded chunks."""

from collections.abc import Iterator, Sequence
from typing import Any

from fastapi.responses import StreamingResponse
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from hub.cases.models import Case, CasePublic
from hub.cases.queries import CaseFilters, count_cases, publics, queue_ids
from hub.feedback.models import Feedback
from hub.http.csv_export import csv_stream, refuse_oversized
from hub.sources.models import Source
from hub.store.engine import session_scope
from hub.users.models import User

CASE_COLUMNS = (
    "id",
    "status",
    "priority",
    "team",
    "assignee",
    "due_at",
    "sla_state",
    "created_at",
    "first_response_at",
    "resolved_at",
    "feedback_id",
    "source",
    "score_type",
    "score",
    "sentiment",
    "text",
)
CHUNK = 500


def cases_csv(
    session: Session, engine: Engine, *, filters: CaseFilters, viewer: User | None, max_rows: int
) -> StreamingResponse:
    """The whole queue as a CSV download, or a 422 when it holds more than ``max_rows``."""
    refuse_oversized(count_cases(session, filters=filters, viewer=viewer), max_rows=max_rows)
    ids = queue_ids(session, filters=filters, viewer=viewer, limit=max_rows)
    return csv_stream("cases", CASE_COLUMNS, case_rows(engine, case_ids=ids))


def case_rows(
    engine: Engine, *, case_ids: Sequence[int], chunk: int = CHUNK
) -> Iterator[list[dict[str, Any]]]:
    """Chunks of CSV rows for these cases, in the given order (cases gone since are left out).

    Each chunk reads in a short session of its own, so a slow download holds no connection."""
    for start in range(0, len(case_ids), chunk):
        ids = case_ids[start : start + chunk]
        with session_scope(engine) as session:
            cases = session.exec(select(Case).where(col(Case.id).in_(ids))).all()
            by_id = {case.id: case for case in publics(session, list(cases))}
            feedback = _feedback_columns(session, [case.feedback_id for case in by_id.values()])
        yield [_row(by_id[i], feedback[by_id[i].feedback_id]) for i in ids if i in by_id]


def _feedback_columns(session: Session, feedback_ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = session.exec(
        select(Feedback, Source.name)
        .join(Source, col(Source.id) == col(Feedback.source_id))
        .where(col(Feedback.id).in_(feedback_ids))
    ).all()
    return {
        feedback.id: {
            "source": source,
            "score_type": feedback.score_type,
            "score": feedback.score,
            "sentiment": feedback.sentiment,
            "text": feedback.text,
        }
        for feedback, source in rows
        if feedback.id is not None
    }


def _row(case: CasePublic, feedback: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": case.id,
        "status": case.status.value,
        "priority": case.priority.value,
        "team": case.team,
        "assignee": case.assignee,
        "due_at": case.due_at,
        "sla_state": case.sla_state,
        "created_at": case.created_at,
        "first_response_at": case.first_response_at,
        "resolved_at": case.resolved_at,
        "feedback_id": case.feedback_id,
        **feedback,
    }
