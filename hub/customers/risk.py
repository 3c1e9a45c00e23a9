"""Customers at risk: ranked by the negative signals in their recent feedback and cases.

The window is the last ``days`` days (default 30) ending now. Each signal adds its weight to a
customer's score; a reason in words says why (``code``, ``text``, ``count``, ``weight``, and the
``evidence``):

========================  ======  ========================================================
signal (``code``)         weight  when
========================  ======  ========================================================
``detractor_score``       3 each  NPS 0-6, CSAT 1-2, CES 1-3 (high effort scores are good),
                                  stars 1-2, thumbs down
``negative_sentiment``    2 each  an item whose sentiment is negative
``repeated_complaints``   3       two or more complaints (items with either of the above)
``repeated_topic``        2 each  a topic the customer complained about more than once
``case_past_sla``         4 each  an open case of theirs past its ``due_at`` (any age)
``activity_drop``         2       3+ items in the span before the window, at most half as
                                  many in it ("went quiet")
``recovered``             -3 each a promoter score (NPS 9-10, CSAT 4-5, CES 5-7, stars 4-5,
                                  thumbs up) after their last complaint in the window
========================  ======  ========================================================

The score never drops below 0, and only customers with at least one negative signal and a
score of at least ``min_score`` are listed. Everything is read with a few aggregate queries over
the window (on the ``created_at`` index), grouped by customer; only the ranking is done here.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, case, func, or_
from sqlmodel import Session, col, select

from hub.cases.models import OPEN_STATUSES, Case
from hub.customers.models import Customer, CustomerPublic
from hub.feedback.models import Feedback
from hub.scores import SCALES
from hub.store.paging import cursor_offset, offset_cursor
from hub.store.types import utcnow
from hub.topics.models import FeedbackTopic, Topic

WEIGHTS = {
    "detractor_score": 3,
    "negative_sentiment": 2,
    "repeated_complaints": 3,
    "repeated_topic": 2,
    "case_past_sla": 4,
    "activity_drop": 2,
    "recovered": -3,
}
# A detractor scores at most this; a promoter at least that (per score type).
DETRACTOR_AT_MOST = {kind: scale.bad_at_most for kind, scale in SCALES.items()}
PROMOTER_AT_LEAST = {kind: scale.good_at_least for kind, scale in SCALES.items()}
ACTIVE_BEFORE = 3  # items in the span before the window that make a customer "active"


class RiskReason(BaseModel):
    """One signal: what it is, in words, how often, and how much it adds to the score."""

    code: str
    text: str
    count: int
    weight: int
    evidence: dict[str, Any] | None = None


class AtRiskCustomer(BaseModel):
    """A customer with their risk score and the reasons for it."""

    customer: CustomerPublic
    score: int
    reasons: list[RiskReason]
    last_feedback_at: datetime | None
    open_cases: int


class CustomerRisk(BaseModel):
    """One customer's risk over the last ``days`` days."""

    score: int
    days: int
    reasons: list[RiskReason]


class AtRiskPage(BaseModel):
    """One page of the ranking, highest score first; ``next_cursor`` continues it."""

    since: datetime
    until: datetime
    days: int
    total: int
    items: list[AtRiskCustomer]
    next_cursor: str | None


@dataclass(frozen=True)
class RiskFilters:
    """Which customers: a segment, a single customer, and the least score listed."""

    days: int = 30
    segment: str | None = None
    min_score: int = 1
    customer_id: int | None = None


@dataclass
class Signals:
    """What the aggregate queries found about one customer."""

    items: int = 0
    items_before: int = 0
    detractors: dict[str, int] = field(default_factory=dict)
    negative_sentiment: int = 0
    complaints: int = 0
    last_feedback: datetime | None = None
    promoters_after: int = 0
    topics: list[tuple[str, str, int]] = field(default_factory=list)
    open_cases: int = 0
    past_sla: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Window:
    """The window ``[since, until]`` and the span of the same length just before it."""

    since: datetime
    until: datetime
    days: int

    @property
    def before(self) -> datetime:
        """Where the span before the window starts."""
        return self.since - (self.until - self.since)


def at_risk(
    session: Session,
    *,
    filters: RiskFilters,
    cursor: str | None = None,
    limit: int = 50,
    now: datetime | None = None,
) -> AtRiskPage:
    """Customers at risk, highest score first, one page of ``limit``."""
    until = now or utcnow()
    window = Window(until - timedelta(days=filters.days), until, filters.days)
    ranked = rank(session, window=window, filters=filters)
    offset = cursor_offset(cursor)
    chosen = ranked[offset : offset + limit]
    customers = _customers(session, [customer_id for customer_id, *_ in chosen])
    last_seen = _last_feedback(session, [cid for cid, _, s, _ in chosen if not s.last_feedback])
    items = [
        AtRiskCustomer(
            customer=customers[customer_id], score=score, reasons=reasons,
            last_feedback_at=signals.last_feedback or last_seen.get(customer_id),
            open_cases=signals.open_cases,
        )
        for customer_id, score, signals, reasons in chosen
    ]  # fmt: skip
    more = offset + limit < len(ranked)
    return AtRiskPage(
        since=window.since, until=window.until, days=window.days, total=len(ranked), items=items,
        next_cursor=offset_cursor(offset + limit) if more else None,
    )  # fmt: skip


def rank(
    session: Session, *, window: Window, filters: RiskFilters
) -> list[tuple[int, int, Signals, list[RiskReason]]]:
    """(customer id, score, signals, reasons) of every customer at risk, highest score first."""
    ranked = []
    for customer_id, signals in _signals(session, window, filters).items():
        reasons = reasons_for(signals, days=window.days)
        score = score_of(reasons)
        if any(reason.weight > 0 for reason in reasons) and score >= filters.min_score:
            ranked.append((customer_id, score, signals, reasons))
    last = datetime.min.replace(tzinfo=window.until.tzinfo)
    ranked.sort(key=lambda row: (-row[1], -(row[2].last_feedback or last).timestamp(), row[0]))
    return ranked


def customer_risk(
    session: Session, *, customer_id: int, days: int = 30, now: datetime | None = None
) -> CustomerRisk:
    """One customer's score and reasons now (empty when nothing speaks against them)."""
    until = now or utcnow()
    window = Window(until - timedelta(days=days), until, days)
    found = _signals(session, window, RiskFilters(days=days, customer_id=customer_id))
    reasons = reasons_for(found[customer_id], days=days) if customer_id in found else []
    return CustomerRisk(score=score_of(reasons), days=days, reasons=reasons)


def score_of(reasons: list[RiskReason]) -> int:
    """The sum of the reasons' weights, never below 0."""
    return max(0, sum(reason.weight for reason in reasons))


def _signals(session: Session, window: Window, filters: RiskFilters) -> dict[int, Signals]:
    found: dict[int, Signals] = defaultdict(Signals)
    _read_activity(session, window, filters, found)
    _read_promoters_after(session, window, filters, found)
    _read_repeated_topics(session, window, filters, found)
    _read_open_cases(session, window, filters, found)
    return found


# The signals as SQL -------------------------------------------------------------------------


def _at_most(bounds: dict[str, int]) -> Any:
    return or_(*(and_(col(Feedback.score_type) == kind, col(Feedback.score) <= top)
                 for kind, top in bounds.items()))  # fmt: skip


def _at_least(bounds: dict[str, int]) -> Any:
    return or_(*(and_(col(Feedback.score_type) == kind, col(Feedback.score) >= low)
                 for kind, low in bounds.items()))  # fmt: skip


DETRACTOR = _at_most(DETRACTOR_AT_MOST)
PROMOTER = _at_least(PROMOTER_AT_LEAST)
NEGATIVE_SENTIMENT = col(Feedback.sentiment) == "negative"
COMPLAINT = or_(DETRACTOR, NEGATIVE_SENTIMENT)


def _rows(session: Session, query: Any) -> list[Any]:
    """The rows of an aggregate query (their customer ids are never null: see ``_scoped``)."""
    return list(session.exec(query))


def _count_if(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _scoped(query: Any, filters: RiskFilters) -> Any:
    """Feedback of customers in the filters (a segment, or one customer)."""
    query = query.where(col(Feedback.customer_id).is_not(None))
    if filters.customer_id is not None:
        query = query.where(Feedback.customer_id == filters.customer_id)
    if filters.segment is not None:
        query = query.join(Customer, col(Customer.id) == col(Feedback.customer_id)).where(
            Customer.segment == filters.segment
        )
    return query


def _in(window: Window) -> Any:
    created = col(Feedback.created_at)
    return and_(created >= window.since, created <= window.until)


def _read_activity(
    session: Session, window: Window, filters: RiskFilters, found: dict[int, Signals]
) -> None:
    """Counts per customer in the window and in the span before it, in one scan."""
    inside = col(Feedback.created_at) >= window.since
    detractors = [
        _count_if(and_(inside, col(Feedback.score_type) == kind, col(Feedback.score) <= top))
        for kind, top in DETRACTOR_AT_MOST.items()
    ]
    query: Any = select(  # type: ignore[call-overload]
        Feedback.customer_id,
        _count_if(inside),
        _count_if(~inside),
        _count_if(and_(inside, NEGATIVE_SENTIMENT)),
        _count_if(and_(inside, COMPLAINT)),
        func.max(case((inside, col(Feedback.created_at)))),
        *detractors,
    ).where(col(Feedback.created_at) >= window.before, col(Feedback.created_at) <= window.until)
    query = _scoped(query, filters).group_by(col(Feedback.customer_id))
    for customer_id, items, before, negative, complaints, last, *per_kind in _rows(session, query):
        signals = found[customer_id]
        signals.items, signals.items_before = int(items), int(before)
        signals.negative_sentiment, signals.complaints = int(negative), int(complaints)
        signals.last_feedback = last
        signals.detractors = {
            kind: int(n) for kind, n in zip(DETRACTOR_AT_MOST, per_kind, strict=True) if n
        }


def _read_promoters_after(
    session: Session, window: Window, filters: RiskFilters, found: dict[int, Signals]
) -> None:
    """Promoter scores given after each customer's last complaint in the window."""
    last_complaint = _scoped(
        select(Feedback.customer_id, func.max(Feedback.created_at).label("at"))
        .where(_in(window), COMPLAINT), filters,
    ).group_by(col(Feedback.customer_id)).subquery()  # fmt: skip
    query = (
        select(Feedback.customer_id, func.count())
        .join(last_complaint, last_complaint.c.customer_id == col(Feedback.customer_id))
        .where(_in(window), PROMOTER, col(Feedback.created_at) > last_complaint.c.at)
        .group_by(col(Feedback.customer_id))
    )
    for customer_id, promoters in _rows(session, query):
        found[customer_id].promoters_after = int(promoters)


def _read_repeated_topics(
    session: Session, window: Window, filters: RiskFilters, found: dict[int, Signals]
) -> None:
    """Topics each customer complained about more than once in the window."""
    query = (
        select(Feedback.customer_id, Topic.key, Topic.name, func.count())
        .join(FeedbackTopic, col(FeedbackTopic.feedback_id) == col(Feedback.id))
        .join(Topic, col(Topic.id) == col(FeedbackTopic.topic_id))
        .where(_in(window), COMPLAINT)
    )
    query = _scoped(query, filters).group_by(
        col(Feedback.customer_id), col(Topic.key), col(Topic.name)
    )
    for customer_id, key, name, count in _rows(session, query.having(func.count() >= 2)):
        found[customer_id].topics.append((key, name, int(count)))


def _read_open_cases(
    session: Session, window: Window, filters: RiskFilters, found: dict[int, Signals]
) -> None:
    """Open cases per customer, and the ids of those past their SLA now."""
    open_case = col(Case.status).in_([status.value for status in OPEN_STATUSES])
    past_due = col(Case.due_at) < window.until
    counts = _scoped(
        select(Feedback.customer_id, func.count())
        .join(Case, col(Case.feedback_id) == col(Feedback.id))
        .where(open_case), filters,
    ).group_by(col(Feedback.customer_id))  # fmt: skip
    for customer_id, n in _rows(session, counts):
        found[customer_id].open_cases = int(n)
    overdue = _scoped(
        select(Feedback.customer_id, Case.id)
        .join(Case, col(Case.feedback_id) == col(Feedback.id))
        .where(open_case, past_due), filters,
    ).order_by(col(Case.id))  # fmt: skip
    for customer_id, case_id in _rows(session, overdue):
        found[customer_id].past_sla.append(case_id)


# The reasons in words -----------------------------------------------------------------------


def reasons_for(signals: Signals, *, days: int) -> list[RiskReason]:
    """The reasons ``signals`` give, each with its weight; negative ones come first."""
    span = "day" if days == 1 else f"{days} days"
    reasons = [
        *_detractor_reasons(signals, span),
        *_complaint_reasons(signals, span),
        *_case_reasons(signals),
        *_activity_reasons(signals, span, days),
    ]
    if signals.promoters_after and signals.complaints:
        n = signals.promoters_after
        reasons.append(_reason("recovered", n, f"Gave {_plural(n, 'promoter score')} after "
                                               "their last complaint"))  # fmt: skip
    return reasons


def _detractor_reasons(signals: Signals, span: str) -> Iterable[RiskReason]:
    total = sum(signals.detractors.values())
    if total:
        kinds = ", ".join(
            f"{n} {kind.upper()} {SCALES[kind].bad_range}"
            if kind != "thumbs"
            else f"{n} thumbs down"
            for kind, n in signals.detractors.items()
        )
        text = f"{_plural(total, 'detractor score')} in the last {span} ({kinds})"
        yield _reason("detractor_score", total, text, evidence=dict(signals.detractors))
    if signals.negative_sentiment:
        n = signals.negative_sentiment
        yield _reason("negative_sentiment", n, f"{_plural(n, 'item')} with negative sentiment "
                                               f"in the last {span}")  # fmt: skip


def _complaint_reasons(signals: Signals, span: str) -> Iterable[RiskReason]:
    if signals.complaints >= 2:
        n = signals.complaints
        text = f"Complained {n} times in the last {span}"
        yield _reason("repeated_complaints", n, text, each=False)
    for key, name, n in sorted(signals.topics, key=lambda topic: (-topic[2], topic[1])):
        yield _reason("repeated_topic", n, f"Complained about {name} {n} times",
                      evidence={"topic": key, "name": name}, each=False)  # fmt: skip


def _case_reasons(signals: Signals) -> Iterable[RiskReason]:
    if signals.past_sla:
        n = len(signals.past_sla)
        ids = ", ".join(f"#{case_id}" for case_id in signals.past_sla)
        yield _reason("case_past_sla", n, f"{_plural(n, 'open case')} past the SLA ({ids})",
                      evidence={"case_ids": signals.past_sla})  # fmt: skip


def _activity_reasons(signals: Signals, span: str, days: int) -> Iterable[RiskReason]:
    if signals.items_before >= ACTIVE_BEFORE and signals.items * 2 <= signals.items_before:
        text = (f"Went quiet: {_plural(signals.items, 'item')} in the last {span}, against "
                f"{signals.items_before} in the {span} before")  # fmt: skip
        evidence = {"items": signals.items, "items_before": signals.items_before}
        yield _reason("activity_drop", signals.items, text, evidence=evidence, each=False)


def _reason(
    code: str, count: int, text: str, *, evidence: dict[str, Any] | None = None, each: bool = True
) -> RiskReason:
    weight = WEIGHTS[code] * (count if each else 1)
    return RiskReason(code=code, text=text, count=count, weight=weight, evidence=evidence)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# Paging and the page's customers ----------------------------------------------------------


def _customers(session: Session, ids: list[int]) -> dict[int, CustomerPublic]:
    rows = session.exec(select(Customer).where(col(Customer.id).in_(ids))).all() if ids else []
    return {row.id: customer_public(row) for row in rows if row.id is not None}


def customer_public(customer: Customer) -> CustomerPublic:
    """A stored customer as the API shows them."""
    assert customer.id is not None
    return CustomerPublic(
        id=customer.id, ref=customer.external_ref, email=customer.email, name=customer.name,
        segment=customer.segment, attributes=customer.attributes,
    )  # fmt: skip


def _last_feedback(session: Session, ids: list[int]) -> dict[int, datetime]:
    """When each of ``ids`` last gave feedback (for those with none in the window)."""
    if not ids:
        return {}
    query = (
        select(Feedback.customer_id, func.max(Feedback.created_at))
        .where(col(Feedback.customer_id).in_(ids))
        .group_by(col(Feedback.customer_id))
    )
    return {customer_id: at for customer_id, at in _rows(session, query) if at is not None}


def segments(session: Session) -> list[str]:
    """Every customer segment in use, for filter menus."""
    query = select(Customer.segment).where(col(Customer.segment).is_not(None)).distinct()
    return sorted(segment for segment in session.exec(query) if segment)
