"""Migration 0013 on both backends: a hub with rules gets "Urgent words" once, a fresh one none."""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Engine

from hub.routing.defaults import URGENT_WORDS
from hub.store.migrate import upgrade
from hub.store.types import JsonValue, UTCDateTime
from tests.store.test_migrations import empty_engine  # noqa: F401 (a fixture)

NOW = datetime(2026, 11, 1, 10, tzinfo=UTC)
TEAM = sa.table("team", *(sa.column(n) for n in ("id", "name", "description")),
                sa.column("created_at", UTCDateTime()))  # fmt: skip
RULE = sa.table(
    "routing_rule",
    *(sa.column(n) for n in ("name", "position", "enabled", "team_id", "strategy", "priority",
                             "sla_hours")),
    sa.column("conditions", JsonValue), sa.column("raise_priority_for", JsonValue),
    sa.column("created_at", UTCDateTime()), sa.column("updated_at", UTCDateTime()),
)  # fmt: skip


def rules(engine: Engine) -> list[sa.Row]:
    with engine.connect() as db:
        return list(db.execute(sa.select(RULE).order_by(RULE.c.position)).all())


def test_an_existing_hub_gets_urgent_words_first_once(empty_engine: Engine) -> None:  # noqa: F811
    upgrade(empty_engine, "0012")
    with empty_engine.begin() as db:
        db.execute(TEAM.insert().values(id=7, name="Support", description="", created_at=NOW))
        for position, name in ((1, "Detractors and low scores"), (2, "Negative sentiment")):
            db.execute(RULE.insert().values(
                name=name, position=position, enabled=True, conditions={}, team_id=7,
                strategy="none", priority="normal", sla_hours=48, created_at=NOW, updated_at=NOW,
            ))  # fmt: skip
    upgrade(empty_engine)
    found = rules(empty_engine)
    assert [(r.name, r.team_id) for r in found] == [
        ("Urgent words", 7), ("Detractors and low scores", 7), ("Negative sentiment", 7),
    ]  # fmt: skip
    assert (found[0].priority, found[0].conditions) == ("urgent", {"keywords": URGENT_WORDS})
    assert [r.raise_priority_for for r in found] == [None, None, None]  # left as they were


def test_a_fresh_hub_gets_its_defaults_on_first_start_not_here(empty_engine: Engine) -> None:  # noqa: F811
    upgrade(empty_engine)
    assert rules(empty_engine) == []
