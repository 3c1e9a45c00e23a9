"""Reading feedback: filtered, cursor-paginated listing and single items."""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from hub.customers.models import Customer, CustomerPublic
from hub.errors import InvalidInput, NotFound
from hub.feedback.models import (
    Channel,
    Feedback,
    FeedbackPage,
    FeedbackPublic,
    NlpState,
    ScoreType,
)
from hub.sources.models import Source
from hub.topics.models import FeedbackTopic, Topic
from hub.topics.service import topics_of


@dataclass(frozen=True)
class FeedbackFilters:
    """What a listing may be narrowed by; ``None`` means no filter."""

    source: str | None = None
    channel: Channel | None = None
    score_type: ScoreType | None = None
    language: str | None = None
    sentiment: str | None = None
    customer: str | None = None  # a customer's exact ref (their history)
    customer_search: str | None = None  # part of a customer's name, email or ref, any case
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None
    topic: str | None = None  # a topic key; an unknown key matches nothing


def list_feedback(
    session: Session, *, filters: FeedbackFilters, cursor: str | None, limit: int
) -> FeedbackPage:
    """Newest first; ``next_cursor`` continues after the last item of this page."""
    query = _base_query()
    for condition in _conditions(filters):
        query = query.where(condition)
    if cursor:
        created_at, last_id = decode_cursor(cursor)
        query = query.where(
            or_(
                col(Feedback.created_at) < created_at,
                and_(col(Feedback.created_at) == created_at, col(Feedback.id) < last_id),
            )
        )
    query = query.order_by(col(Feedback.created_at).desc(), col(Feedback.id).desc())
    rows = session.exec(query.limit(limit + 1)).all()
    items = _with_topics(session, [_public(*row) for row in rows[:limit]])
    next_cursor = encode_cursor(items[-1].created_at, items[-1].id) if len(rows) > limit else None
    return FeedbackPage(items=items, next_cursor=next_cursor)


def list_newer_feedback(
    session: Session, *, filters: FeedbackFilters, cursor: str, limit: int
) -> tuple[list[FeedbackPublic], bool]:
    """The ``limit`` items just newer than the cursor's position, newest first (the way back
    to newer pages), and whether there are newer ones still."""
    created_at, last_id = decode_cursor(cursor)
    query = _base_query().where(
        or_(
            col(Feedback.created_at) > created_at,
            and_(col(Feedback.created_at) == created_at, col(Feedback.id) > last_id),
        )
    )
    for condition in _conditions(filters):
        query = query.where(condition)
    query = query.order_by(col(Feedback.created_at).asc(), col(Feedback.id).asc())
    rows = session.exec(query.limit(limit + 1)).all()
    items = _with_topics(session, [_public(*row) for row in reversed(rows[:limit])])
    return items, len(rows) > limit


def count_feedback(session: Session, *, filters: FeedbackFilters) -> int:
    """How many items the filters match."""
    query = _joined(select(func.count()).select_from(Feedback))
    for condition in _conditions(filters):
        query = query.where(condition)
    return int(session.exec(query).one())


def get_feedback(session: Session, *, feedback_id: int) -> FeedbackPublic:
    """One item by id, or NotFound."""
    row = session.exec(_base_query().where(Feedback.id == feedback_id)).first()
    if row is None:
        raise NotFound(f"no feedback with id {feedback_id}")
    return _with_topics(session, [_public(*row)])[0]


def encode_cursor(created_at: datetime, feedback_id: int) -> str:
    """An opaque cursor for the position after (created_at, id)."""
    raw = json.dumps([created_at.isoformat(), feedback_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The position a cursor stands for, or InvalidInput naming the parameter."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, feedback_id = json.loads(raw)
        return datetime.fromisoformat(created_at), int(feedback_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "`cursor` is not a cursor this API returned",
            details=[{"loc": ["query", "cursor"], "message": "malformed cursor"}],
        ) from exc


def _base_query() -> Any:
    return _joined(select(Feedback, Source.name, Customer))


def _joined(query: Any) -> Any:
    """``query`` over feedback with its source and (if any) customer joined for the filters."""
    return query.join(Source, col(Source.id) == Feedback.source_id).outerjoin(
        Customer, col(Customer.id) == Feedback.customer_id
    )


def _conditions(filters: FeedbackFilters) -> list[Any]:
    conditions: list[Any] = []
    if filters.source:
        conditions.append(Source.name == filters.source)
    if filters.channel:
        conditions.append(Feedback.channel == filters.channel.value)
    if filters.score_type:
        conditions.append(Feedback.score_type == filters.score_type.value)
    if filters.language:
        conditions.append(Feedback.language == filters.language)
    if filters.sentiment:
        conditions.append(Feedback.sentiment == filters.sentiment)
    if filters.customer:
        conditions.append(Customer.external_ref == filters.customer)
    if filters.customer_search:
        conditions.append(
            or_(
                *(
                    col(field).icontains(filters.customer_search, autoescape=True)
                    for field in (Customer.name, Customer.email, Customer.external_ref)
                )
            )
        )
    if filters.since:
        conditions.append(col(Feedback.created_at) >= filters.since)
    if filters.until:
        conditions.append(col(Feedback.created_at) < filters.until)
    if filters.q:
        conditions.append(
            or_(
                col(Feedback.text).icontains(filters.q, autoescape=True),
                col(Feedback.title).icontains(filters.q, autoescape=True),
            )
        )
    if filters.topic:
        conditions.append(col(Feedback.id).in_(_ids_with_topic(filters.topic)))
    return conditions


def _ids_with_topic(key: str) -> Any:
    """Ids of the feedback items that carry the topic with this key."""
    return (
        select(FeedbackTopic.feedback_id)
        .join(Topic, col(Topic.id) == FeedbackTopic.topic_id)
        .where(Topic.key == key)
    )


def _public(feedback: Feedback, source_name: str, customer: Customer | None) -> FeedbackPublic:
    assert feedback.id is not None
    return FeedbackPublic(
        id=feedback.id,
        source=source_name,
        external_id=feedback.external_id,
        channel=Channel(feedback.channel),
        text=feedback.text,
        title=feedback.title,
        score_type=ScoreType(feedback.score_type) if feedback.score_type else None,
        score=feedback.score,
        answers=feedback.answers,
        author=feedback.author,
        customer=_customer_public(customer) if customer else None,
        url=feedback.url,
        metadata=feedback.meta,
        created_at=feedback.created_at,
        received_at=feedback.received_at,
        language=feedback.language,
        sentiment=feedback.sentiment,
        sentiment_score=feedback.sentiment_score,
        sentiment_confidence=feedback.sentiment_confidence,
        sentiment_by=feedback.sentiment_by,
        nlp_state=NlpState(feedback.nlp_state),
    )


def _with_topics(session: Session, items: list[FeedbackPublic]) -> list[FeedbackPublic]:
    topics = topics_of(session, feedback_ids=[item.id for item in items])
    for item in items:
        item.topics = topics.get(item.id, [])
    return items


def _customer_public(customer: Customer) -> CustomerPublic:
    assert customer.id is not None
    return CustomerPublic(
        id=customer.id,
        ref=customer.external_ref,
        email=customer.email,
        name=customer.name,
        segment=customer.segment,
        attributes=customer.attributes,
    )
