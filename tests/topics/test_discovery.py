"""`feedback-hub topics discover`: suggestions from unplaced feedback, stored inactive."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from hub.cli import app
from hub.feedback.models import Feedback
from hub.feedback.service import ingest
from hub.store.engine import session_scope
from hub.topics.models import Topic
from hub.topics.service import seed_topics
from tests.factories import item

PARKING = [
    "There is never any parking near the pickup point",
    "Parking at the pickup point is a nightmare on Saturdays",
    "I drove around twenty minutes looking for parking at pickup",
    "No hay aparcamiento cerca del punto de recogida",
    "Impossível estacionar perto do ponto de retirada",
]


@pytest.fixture
def unplaced(db, cli_env: Path) -> None:  # type: ignore[no-untyped-def]
    """Enriched feedback without topics: a parking theme no seeded topic covers, and noise."""
    recent = (datetime.now(UTC) - timedelta(days=2)).isoformat()  # inside the default 30 days
    texts = [*PARKING, "Lovely people", "meh whatever"]
    with session_scope(db.engine) as session:
        seed_topics(session)
        ingest(session, raw_items=[item(text=t, created_at=recent) for t in texts])
        for row in session.exec(select(Feedback)):
            row.nlp_state = "done"
            session.add(row)


def test_discover_suggests_an_inactive_topic_with_verbatims(
    unplaced: None, db, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HUB_EMBEDDING_MODEL", "use")
    runner = CliRunner()
    result = runner.invoke(app, ["topics", "discover", "--min-size", "3"])
    assert result.exit_code == 0, result.output
    with session_scope(db.engine) as session:
        found = session.exec(select(Topic).where(Topic.origin == "discovered")).all()
    assert len(found) == 1
    [topic] = found
    assert topic.active is False
    assert "parking" in topic.name
    assert set(topic.examples["discovered"]) <= set(PARKING)
    assert len(topic.examples["discovered"]) >= 3

    again = runner.invoke(app, ["topics", "discover", "--min-size", "3"])
    assert again.exit_code == 0
    with session_scope(db.engine) as session:  # unaccepted suggestions are replaced, not piled up
        assert len(session.exec(select(Topic).where(Topic.origin == "discovered")).all()) == 1
