"""Rollups kept on ingest, NLP writes and corrections equal a from-scratch rebuild."""

import random
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session

from hub.enrichment.claims import claim_batch, write_results, write_sentiments
from hub.feedback.corrections import correct_sentiment
from hub.feedback.service import ingest
from hub.metrics.models import MEASURES
from hub.metrics.service import DAILY_ROLLUP, FEEDBACK_ROLLUP, TOPIC_ROLLUP, rebuild
from hub.store.engine import session_scope
from hub.topics.service import correct_topics, seed_topics, store_model_topics
from tests.conftest import Database
from tests.factories import item

TOPICS = ["billing", "delivery", "app_bugs", "customer_support", "subscription"]
SCORES: dict[str | None, tuple[int, int]] = {
    "nps": (0, 10), "csat": (1, 5), "ces": (1, 7), "stars": (1, 5), "thumbs": (0, 1), None: (0, 0),
}  # fmt: skip


def snapshot(session: Session) -> dict[str, dict[tuple[Any, ...], tuple[int, ...]]]:
    """Every rollup row that counts something, by table and key."""
    found = {}
    for table in (FEEDBACK_ROLLUP, DAILY_ROLLUP, TOPIC_ROLLUP):
        keys = [c for c in table.c if c.name not in MEASURES]
        rows = session.execute(select(table)).mappings()
        found[table.name] = {
            tuple(row[c.name] for c in keys): tuple(row[m] for m in MEASURES)
            for row in rows
            if row["n"] != 0
        }
    return found


def assert_rollups_match_rebuild(db: Database) -> None:
    with Session(db.engine) as session:
        kept = snapshot(session)
        rebuild(session)
        fresh = snapshot(session)
        session.rollback()
    assert kept == fresh
    assert all(value >= 0 for rows in kept.values() for counts in rows.values() for value in counts)


def random_item(rng: random.Random, sent: list[dict[str, Any]]) -> dict[str, Any]:
    if sent and rng.random() < 0.2:
        return rng.choice(sent)  # a re-send: a duplicate adds nothing
    score_type = rng.choice(list(SCORES))
    low, high = SCORES[score_type]
    customer = rng.choice([None, "c1", "c2", "c3"])
    overrides: dict[str, Any] = {
        "source": rng.choice(["app", "survey", "zendesk"]),
        "channel": rng.choice(["survey", "review", "ticket"]),
        "score_type": score_type,
        "score": rng.randint(low, high) if score_type else None,
        "created_at": f"2026-10-{rng.randint(1, 9):02d}T{rng.randint(0, 23):02d}:30:00+05:00",
        "customer": customer and {"ref": customer, "segment": rng.choice(["smb", "ent", None])},
    }
    created = item(**overrides)
    sent.append(created)
    return created


def nlp_step(db: Database, rng: random.Random) -> None:
    with session_scope(db.engine) as session:
        claimed = [c.id for c in claim_batch(session, owner="w", size=rng.randint(1, 8),
                                             lease=timedelta(minutes=5))]  # fmt: skip
    with session_scope(db.engine) as session:
        store_model_topics(session, assigned={
            i: [(key, 0.5) for key in rng.sample(TOPICS, rng.randint(0, 2))] for i in claimed
        })  # fmt: skip
        write_sentiments(session, owner="w", sentiments={
            i: (rng.choice(["negative", "neutral", "positive"]), 0.0, 0.9) for i in claimed
        })  # fmt: skip
        languages = {i: {"language": rng.choice(["en", "es", "pt"])} for i in claimed}
        write_results(session, owner="w", model="test", results=languages)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_writes_keep_rollups_equal_to_a_rebuild(db: Database, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 (test data)
    with session_scope(db.engine) as session:
        seed_topics(session)
    sent: list[dict[str, Any]] = []
    ids: list[int] = []
    for step in range(40):
        action = rng.choice(["ingest", "ingest", "nlp", "sentiment", "topics"])
        if action == "ingest":
            with session_scope(db.engine) as session:
                batch = [random_item(rng, sent) for _ in range(rng.randint(1, 12))]
                summary = ingest(session, raw_items=batch)
                ids += [r.id for r in summary.results if r.status == "created" and r.id]
        elif action == "nlp":
            nlp_step(db, rng)
        elif ids and action == "sentiment":
            with session_scope(db.engine) as session:
                label = rng.choice(["negative", "neutral", "positive"])
                correct_sentiment(session, feedback_id=rng.choice(ids), sentiment=label)
        elif ids:
            with session_scope(db.engine) as session:
                keys = rng.sample(TOPICS, rng.randint(0, 3))
                correct_topics(session, feedback_id=rng.choice(ids), keys=keys)
        if step % 10 == 9:
            assert_rollups_match_rebuild(db)
    assert ids
    with Session(db.engine) as session:
        kept = snapshot(session)
    assert kept["topic_rollup"], "the run never put a topic on an item"
    assert_rollups_match_rebuild(db)


def test_days_are_utc_and_duplicates_add_nothing(db: Database) -> None:
    first = item(created_at="2026-10-01T23:30:00-02:00", score_type="nps", score=10)
    with session_scope(db.engine) as session:
        ingest(session, raw_items=[first, first])
        ingest(session, raw_items=[first])
    with Session(db.engine) as session:
        rows = snapshot(session)["feedback_rollup"]
    ((key, measures),) = rows.items()
    assert key[0] == date(2026, 10, 2)  # 23:30 at -02:00 is 01:30 UTC the next day
    assert measures[0] == 1 and measures[MEASURES.index("score_10")] == 1
    assert key[4] == "smb"


def test_a_new_segment_moves_the_customers_feedback(db: Database) -> None:
    with session_scope(db.engine) as session:
        ingest(session, raw_items=[item(), item()])
        ingest(session, raw_items=[item(customer={"ref": "cus_1", "segment": "enterprise"})])
    with Session(db.engine) as session:
        rows = snapshot(session)["feedback_rollup"]
    assert {key[4]: counts[0] for key, counts in rows.items()} == {"enterprise": 3}
    assert_rollups_match_rebuild(db)


def test_rebuild_in_chunks_reports_progress(db: Database) -> None:
    with session_scope(db.engine) as session:
        ingest(session, raw_items=[item(created_at=f"2026-0{m}-15T10:00:00Z") for m in (1, 5, 9)])
    calls: list[tuple[int, int]] = []
    with session_scope(db.engine) as session:
        kept = snapshot(session)
        rebuild(session, chunk_days=31, progress=lambda done, total: calls.append((done, total)))
        assert snapshot(session) == kept
    assert calls[-1][0] == calls[-1][1] > 1
