"""Builders of customers' feedback and cases at chosen times, for the risk tests."""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from hub.cases.models import Status
from hub.cases.service import open_case, transition
from hub.config import Settings
from hub.feedback.models import Feedback
from hub.feedback.service import ingest
from hub.routing.models import Priority, Strategy
from hub.store.engine import session_scope
from hub.topics.service import seed_topics, store_model_topics
from tests.factories import item

# A fixed "now" for the service tests (in the past, so ingest accepts every item).
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def add(
    engine: Engine,
    ref: str,
    *,
    at: datetime,
    score: tuple[str, int] | None = None,
    sentiment: str | None = None,
    topics: tuple[str, ...] = (),
    segment: str = "smb",
    name: str | None = None,
    text: str = "Something about the order.",
) -> int:
    """One feedback item from customer ``ref`` at ``at`` (the newest name given sticks)."""
    fields: dict[str, Any] = {
        "created_at": at.isoformat(),
        "text": text,
        "customer": {"ref": ref, "segment": segment, **({"name": name} if name else {})},
        "score_type": score[0] if score else ...,
        "score": score[1] if score else ...,
    }
    with session_scope(engine) as session:
        [result] = ingest(session, raw_items=[item(**fields)]).results
        assert result.id is not None, result
        if sentiment is not None:
            feedback = session.get(Feedback, result.id)
            assert feedback is not None
            feedback.sentiment = sentiment
            session.add(feedback)
        if topics:
            seed_topics(session)
            store_model_topics(session, assigned={result.id: [(key, 0.9) for key in topics]})
        return result.id


def days_ago(days: float, *, now: datetime = NOW) -> datetime:
    """A moment ``days`` before ``now``."""
    return now - timedelta(days=days)


def add_case(
    engine: Engine, feedback_id: int, *, due_at: datetime, status: Status | None = None
) -> int:
    """A case for the item, due at ``due_at``, moved to ``status`` if given; returns its id."""
    with session_scope(engine) as session:
        case = open_case(
            session, settings=Settings(), feedback_id=feedback_id, team_id=None,
            assignee_id=None, strategy=Strategy.none, priority=Priority.normal, sla_hours=48,
            rule_id=None, actor="system",
        )  # fmt: skip
        case.due_at = due_at
        session.add(case)
        session.flush()
        assert case.id is not None
        if status is not None:
            transition(session, case_id=case.id, status=status, resolution="done", actor="system",
                       settings=Settings())  # fmt: skip
        return case.id
