"""Customers at risk on both backends: each signal, the ranking, the window, paging and cost."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import select

from hub.cases.models import Status
from hub.customers.models import Customer
from hub.customers.risk import AtRiskPage, RiskFilters, at_risk, customer_risk
from hub.errors import InvalidInput
from hub.store.engine import session_scope
from tests.conftest import Database
from tests.customers.builders import NOW, add, add_case, days_ago


def ranking(
    db: Database, *, cursor: str | None = None, limit: int = 50, **filters: Any
) -> AtRiskPage:
    with session_scope(db.engine) as session:
        return at_risk(session, filters=RiskFilters(**filters), cursor=cursor, limit=limit, now=NOW)


def reasons_of(page: AtRiskPage, ref: str) -> dict[str, int]:
    """The reason codes of customer ``ref`` with their weights."""
    [found] = [entry for entry in page.items if entry.customer.ref == ref]
    return {reason.code: reason.weight for reason in found.reasons}


def refs(page: AtRiskPage) -> list[str]:
    return [entry.customer.ref for entry in page.items]


def test_customers_with_nothing_negative_are_not_listed(db: Database) -> None:
    add(db.engine, "happy", at=days_ago(3), score=("nps", 10), sentiment="positive")
    add(db.engine, "happy", at=days_ago(2), score=("csat", 5))
    add(db.engine, "neutral", at=days_ago(1), score=("nps", 7), sentiment="neutral")
    add(db.engine, "silent", at=days_ago(1))
    assert ranking(db).items == []
    assert ranking(db).total == 0


@pytest.mark.parametrize(
    ("score_type", "worst_detractor", "best_non_detractor"),
    [("nps", 6, 7), ("csat", 2, 3), ("ces", 3, 4), ("stars", 2, 3), ("thumbs", 0, 1)],
)
def test_a_detractor_score_alone_puts_a_customer_at_risk(
    db: Database, score_type: str, worst_detractor: int, best_non_detractor: int
) -> None:
    add(db.engine, "upset", at=days_ago(5), score=(score_type, worst_detractor))
    add(db.engine, "fine", at=days_ago(5), score=(score_type, best_non_detractor))
    page = ranking(db)
    assert refs(page) == ["upset"]
    assert page.items[0].score == 3
    [reason] = page.items[0].reasons
    assert reason.code == "detractor_score" and reason.count == 1
    assert reason.evidence == {score_type: 1}
    assert "1 detractor score in the last 30 days" in reason.text


def test_negative_sentiment_alone_puts_a_customer_at_risk(db: Database) -> None:
    add(db.engine, "grumpy", at=days_ago(2), sentiment="negative", text="Awful service.")
    page = ranking(db)
    assert refs(page) == ["grumpy"] and page.items[0].score == 2
    assert reasons_of(page, "grumpy") == {"negative_sentiment": 2}
    assert page.items[0].reasons[0].text == "1 item with negative sentiment in the last 30 days"


def test_repeated_complaints_and_a_repeated_topic_are_named(db: Database) -> None:
    add(db.engine, "ana", at=days_ago(9), score=("nps", 2), topics=("billing", "delivery"))
    add(db.engine, "ana", at=days_ago(4), sentiment="negative", topics=("billing",))
    page = ranking(db)
    assert reasons_of(page, "ana") == {
        "detractor_score": 3, "negative_sentiment": 2, "repeated_complaints": 3,
        "repeated_topic": 2,
    }  # fmt: skip
    topic = next(r for r in page.items[0].reasons if r.code == "repeated_topic")
    assert topic.text == "Complained about Billing 2 times"
    assert topic.evidence == {"topic": "billing", "name": "Billing"}
    assert page.items[0].score == 10


def test_a_topic_in_positive_feedback_is_no_complaint(db: Database) -> None:
    add(db.engine, "bo", at=days_ago(9), score=("nps", 10), topics=("billing",))
    add(db.engine, "bo", at=days_ago(4), score=("nps", 2), topics=("billing",))
    assert reasons_of(ranking(db), "bo") == {"detractor_score": 3}


def test_an_open_case_past_its_sla_alone_puts_a_customer_at_risk(db: Database) -> None:
    overdue = add(db.engine, "cy", at=days_ago(60), score=("nps", 8))
    case_id = add_case(db.engine, overdue, due_at=NOW - timedelta(hours=3))
    on_time = add(db.engine, "dee", at=days_ago(60), score=("nps", 8))
    add_case(db.engine, on_time, due_at=NOW + timedelta(hours=3))
    closed = add(db.engine, "eve", at=days_ago(60), score=("nps", 8))
    add_case(db.engine, closed, due_at=NOW - timedelta(hours=3), status=Status.closed)
    page = ranking(db)
    assert refs(page) == ["cy"]
    [reason] = page.items[0].reasons
    assert (reason.code, reason.weight, reason.evidence) == (
        "case_past_sla",
        4,
        {"case_ids": [case_id]},
    )
    assert reason.text == f"1 open case past the SLA (#{case_id})"
    assert page.items[0].open_cases == 1
    # no feedback in the window: the last feedback date is still shown
    assert page.items[0].last_feedback_at == days_ago(60)


def test_a_drop_in_activity_of_an_active_customer(db: Database) -> None:
    for day in (35, 40, 45, 50):
        add(db.engine, "quiet", at=days_ago(day), score=("nps", 9))
        add(db.engine, "steady", at=days_ago(day), score=("nps", 9))
    add(db.engine, "quiet", at=days_ago(2), score=("nps", 9))
    for day in (2, 8, 20):
        add(db.engine, "steady", at=days_ago(day), score=("nps", 9))
    for day in (35, 40):  # two items before: never active enough to count as a drop
        add(db.engine, "rare", at=days_ago(day), score=("nps", 9))
    page = ranking(db)
    assert refs(page) == ["quiet"]
    [reason] = page.items[0].reasons
    assert reason.code == "activity_drop" and reason.weight == 2
    assert reason.evidence == {"items": 1, "items_before": 4}
    assert reason.text == "Went quiet: 1 item in the last 30 days, against 4 in the 30 days before"


def test_a_customer_gone_silent_counts_as_a_drop(db: Database) -> None:
    for day in (31, 33, 36):
        add(db.engine, "gone", at=days_ago(day), score=("csat", 5))
    assert reasons_of(ranking(db), "gone") == {"activity_drop": 2}


def test_a_promoter_score_after_the_complaint_lowers_the_score(db: Database) -> None:
    for ref in ("recovered", "still_upset"):
        add(db.engine, ref, at=days_ago(10), score=("nps", 1))
        add(db.engine, ref, at=days_ago(8), score=("csat", 1))
    add(db.engine, "recovered", at=days_ago(2), score=("nps", 10))
    add(db.engine, "still_upset", at=days_ago(12), score=("nps", 10))  # before: no help
    page = ranking(db)
    assert refs(page) == ["still_upset", "recovered"]
    assert [entry.score for entry in page.items] == [9, 6]
    assert reasons_of(page, "recovered")["recovered"] == -3
    assert "recovered" not in reasons_of(page, "still_upset")


def test_a_complaint_fully_made_good_is_not_listed(db: Database) -> None:
    add(db.engine, "made_good", at=days_ago(10), score=("nps", 5))
    add(db.engine, "made_good", at=days_ago(3), score=("nps", 10))
    assert ranking(db).items == []
    with session_scope(db.engine) as session:
        risk = customer_risk(session, customer_id=_id(db, "made_good"), now=NOW)
    assert risk.score == 0
    assert [r.code for r in risk.reasons] == ["detractor_score", "recovered"]


def test_the_ranking_is_highest_score_first_then_latest_feedback(db: Database) -> None:
    add(db.engine, "low", at=days_ago(1), score=("thumbs", 0))  # 3
    for day in (6, 5, 4):
        add(db.engine, "high", at=days_ago(day), score=("nps", 0))  # 9 + 3
    add(db.engine, "mid_old", at=days_ago(20), score=("nps", 3), sentiment="negative")  # 5
    add(db.engine, "mid_new", at=days_ago(2), score=("stars", 1), sentiment="negative")  # 5
    page = ranking(db)
    assert refs(page) == ["high", "mid_new", "mid_old", "low"]
    assert [entry.score for entry in page.items] == [12, 5, 5, 3]
    assert page.items[1].last_feedback_at == days_ago(2)


def test_the_window_edges(db: Database) -> None:
    add(db.engine, "on_edge", at=days_ago(30), score=("nps", 0))
    add(db.engine, "past_edge", at=days_ago(30) - timedelta(seconds=1), score=("nps", 0))
    add(db.engine, "future", at=NOW + timedelta(seconds=1), score=("nps", 0))
    add(db.engine, "recent", at=days_ago(6), score=("nps", 0))
    assert sorted(refs(ranking(db))) == ["on_edge", "recent"]
    assert refs(ranking(db, days=7)) == ["recent"]
    assert sorted(refs(ranking(db, days=31))) == ["on_edge", "past_edge", "recent"]
    page = ranking(db, days=7)
    assert page.until == NOW and page.since == NOW - timedelta(days=7)
    assert "in the last 7 days" in page.items[0].reasons[0].text


def test_segment_and_min_score_filters(db: Database) -> None:
    add(db.engine, "small", at=days_ago(3), score=("nps", 1), segment="smb")
    for day in (3, 2):
        add(db.engine, "big", at=days_ago(day), score=("nps", 1), segment="enterprise")
    assert refs(ranking(db, segment="enterprise")) == ["big"]
    assert refs(ranking(db, segment="smb")) == ["small"]
    assert refs(ranking(db, min_score=4)) == ["big"]
    assert ranking(db, segment="nobody").items == []


def test_paging_walks_the_whole_ranking_once(db: Database) -> None:
    for n in range(5):
        for day in range(n + 1):
            add(db.engine, f"c{n}", at=days_ago(day + 1), score=("nps", 2))
    seen, cursor = [], None
    while True:
        page = ranking(db, limit=2, cursor=cursor)
        assert page.total == 5
        seen += refs(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ["c4", "c3", "c2", "c1", "c0"]
    with pytest.raises(InvalidInput):
        ranking(db, cursor="not-a-cursor")


def test_a_few_aggregate_queries_whatever_the_number_of_customers(db: Database) -> None:
    def statements_for_ranking() -> int:
        count = 0

        def counted(*_args: object) -> None:
            nonlocal count
            count += 1

        event.listen(db.engine, "before_cursor_execute", counted)
        try:
            ranking(db)
        finally:
            event.remove(db.engine, "before_cursor_execute", counted)
        return count

    add(db.engine, "first", at=days_ago(1), score=("nps", 0), topics=("billing",))
    few = statements_for_ranking()
    for n in range(12):
        feedback_id = add(db.engine, f"more{n}", at=days_ago(2), score=("nps", 0))
        add_case(db.engine, feedback_id, due_at=NOW - timedelta(hours=1))
    assert len(ranking(db).items) == 13
    assert statements_for_ranking() == few <= 8


def _id(db: Database, ref: str) -> int:
    with session_scope(db.engine) as session:
        found = session.exec(select(Customer.id).where(Customer.external_ref == ref)).one()
        assert found is not None
        return found
