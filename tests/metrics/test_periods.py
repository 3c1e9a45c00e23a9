"""Weeks and months are summed by the database: every period must equal the sum of its days."""

import random
from datetime import date, timedelta
from typing import Any

import pytest

from hub.enrichment.claims import claim_batch, write_sentiments
from hub.feedback.service import ingest
from hub.metrics.queries import Interval, Window, metric_report, topic_trends
from hub.store.engine import session_scope
from hub.topics.service import seed_topics, store_model_topics
from tests.conftest import Database
from tests.factories import item

FIRST = date(2026, 1, 1)
DAYS = 150


@pytest.fixture
def spread(db: Database) -> None:
    """NPS answers on random days over five months, half about billing, with sentiment."""
    rng = random.Random(7)  # noqa: S311 (test data)
    items = [
        item(score=rng.randint(0, 10), created_at=f"{FIRST + timedelta(days=rng.randrange(DAYS))}"
             "T23:30:00Z")
        for _ in range(300)
    ]  # fmt: skip
    with session_scope(db.engine) as session:
        seed_topics(session)
        assert ingest(session, raw_items=items).created == len(items)
    with session_scope(db.engine) as session:
        claimed = [c.id for c in claim_batch(session, owner="w", size=500,
                                             lease=timedelta(minutes=5))]  # fmt: skip
        store_model_topics(session, assigned={i: [("billing", 0.9)] for i in claimed[::2]})
        write_sentiments(session, owner="w", sentiments={
            i: (rng.choice(["negative", "neutral", "positive"]), 0.0, 0.9) for i in claimed
        })  # fmt: skip


def _fold(window: Window, daily: list[dict[str, Any]], field: str) -> dict[date, int]:
    folded: dict[date, int] = {}
    for point in daily:
        period = window.period(point["period"])
        folded[period] = folded.get(period, 0) + (point[field] or 0)
    return folded


@pytest.mark.parametrize("interval", [Interval.week, Interval.month])
def test_a_period_is_the_sum_of_its_days(db: Database, spread: None, interval: Interval) -> None:
    rng = random.Random(interval.value)  # noqa: S311 (test data)
    with session_scope(db.engine) as session:
        for _ in range(6):  # windows that start and end in the middle of weeks and months
            start = FIRST + timedelta(days=rng.randrange(40))
            end = start + timedelta(days=rng.randrange(30, 100))
            window = Window.of(start, end, interval)
            daily = Window.of(start, end, Interval.day)
            report = metric_report(session, metric="nps", window=window)
            by_day = metric_report(session, metric="nps", window=daily)
            for field in ("responses", "promoters", "detractors"):
                expected = _fold(window, by_day["series"], field)
                assert {p["period"]: p[field] for p in report["series"]} == {
                    period: expected.get(period, 0) for period in window.periods()
                }
            assert report["responses"] == sum(p["responses"] for p in by_day["series"]) > 0

            trends = topic_trends(session, window=window)
            per_day = topic_trends(session, window=daily)
            [billing] = [t for t in trends["topics"] if t["key"] == "billing"]
            [billing_daily] = [t for t in per_day["topics"] if t["key"] == "billing"]
            for field in ("volume", "negative", "positive"):
                expected = _fold(window, billing_daily["series"], field)
                assert {p["period"]: p[field] for p in billing["series"]} == {
                    period: expected.get(period, 0) for period in window.periods()
                }
            assert billing["baseline_volume"] == billing_daily["baseline_volume"]
