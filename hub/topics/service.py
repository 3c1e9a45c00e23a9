"""The taxonomy (seed, list, create, edit) and topics of feedback items (model and people)."""

import json
from collections.abc import Iterable
from importlib import resources
from typing import Any

from sqlalchemy import delete, func, insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from hub.errors import Conflict, InvalidInput, NotFound
from hub.feedback.models import Feedback
from hub.metrics.service import tracking
from hub.store.types import utcnow
from hub.topics.models import (
    AssignedBy,
    AssignedTopic,
    FeedbackTopic,
    Topic,
    TopicCreate,
    TopicOrigin,
    TopicPublic,
    TopicUpdate,
)
from hub.topics.rule_refs import replace_in_rules

LEARNED = "learned"  # examples key for phrases people confirmed by correcting an item


def seed_topics(session: Session) -> int:
    """Add the seeded taxonomy's topics that are missing (people's edits are kept)."""
    taxonomy = json.loads((resources.files("hub.topics") / "taxonomy.json").read_text("utf-8"))
    existing = set(session.exec(select(Topic.key)).all())
    added = 0
    for entry in taxonomy:
        if entry["key"] not in existing:
            session.add(
                Topic(
                    key=entry["key"],
                    name=entry["name"],
                    description=entry["description"],
                    examples=entry["examples"],
                    origin=TopicOrigin.seeded,
                )
            )
            added += 1
    session.flush()
    return added


def list_topics(session: Session, *, active_only: bool = False) -> list[TopicPublic]:
    """Every topic by key (only active ones if asked)."""
    query = select(Topic).order_by(col(Topic.key))
    if active_only:
        query = query.where(col(Topic.active).is_(True))
    topics = session.exec(query).all()
    keys = {topic.id: topic.key for topic in topics}
    return [_public(topic, keys) for topic in topics]


def create_topic(session: Session, *, data: TopicCreate) -> TopicPublic:
    """A new curated topic; its key must be new."""
    _check_key_free(session, data.key)
    topic = Topic(
        key=data.key,
        name=data.name,
        description=data.description,
        owner_team=data.owner_team,
        examples=data.examples,
        parent_id=_topic_id(session, data.parent) if data.parent else None,
        origin=TopicOrigin.curated,
    )
    session.add(topic)
    session.flush()
    return public_topic(session, topic)


def update_topic(session: Session, *, key: str, data: TopicUpdate) -> TopicPublic:
    """Change a topic's fields; a changed taxonomy reaches new items at the workers' next batch.

    A new key keeps the topic's history (rollups and items refer to its id) and is written into
    the routing rules that named the old one. Activating a discovered topic accepts it.
    """
    topic = find_topic(session, key)
    changes = data.model_dump(exclude_unset=True)
    if "parent" in changes:
        parent = changes.pop("parent")
        if parent and parent in (key, changes.get("key")):
            raise InvalidInput("a topic cannot be its own parent")
        topic.parent_id = _topic_id(session, parent) if parent else None
    new_key = changes.pop("key", None)
    if new_key and new_key != key:
        _check_key_free(session, new_key)
        topic.key = new_key
        session.add(topic)
        session.flush()  # the rules then name a key that exists
        replace_in_rules(session, old=key, new=new_key)
    for field, value in changes.items():
        setattr(topic, field, value)
    if changes.get("active") and topic.origin == TopicOrigin.discovered:
        topic.origin = TopicOrigin.curated
    topic.updated_at = utcnow()
    session.add(topic)
    session.flush()
    return public_topic(session, topic)


def _check_key_free(session: Session, key: str) -> None:
    if session.exec(select(Topic.id).where(Topic.key == key)).first() is not None:
        raise Conflict(f"a topic with key {key!r} exists already", details={"key": key})


def correct_topics(session: Session, *, feedback_id: int, keys: list[str]) -> list[AssignedTopic]:
    """A person's topics for one item: they replace the model's, and teach the topics."""
    feedback = session.get(Feedback, feedback_id)
    if feedback is None:
        raise NotFound(f"no feedback with id {feedback_id}")
    wanted = list(dict.fromkeys(keys))
    with tracking(session, [feedback_id]):  # the item first, then its topics (a merge's order)
        found = dict(session.exec(_kept_in_place(wanted)).all())
        missing = [key for key in wanted if key not in found]
        if missing:
            raise NotFound(f"no topic with key {missing[0]!r}")
        _replace_topics(session, feedback, [find_topic(session, key) for key in wanted])
    return topics_of(session, feedback_ids=[feedback_id]).get(feedback_id, [])


def _replace_topics(session: Session, feedback: Feedback, topics: list[Topic]) -> None:
    """A person's topics replace the item's; its text becomes an example of each."""
    feedback_id = feedback.id
    assert feedback_id is not None
    session.execute(delete(FeedbackTopic).where(col(FeedbackTopic.feedback_id) == feedback_id))
    text = ". ".join(part for part in (feedback.title, feedback.text) if part)
    for topic in topics:
        assert topic.id is not None
        session.add(
            FeedbackTopic(
                feedback_id=feedback_id,
                topic_id=topic.id,
                confidence=1.0,
                assigned_by=AssignedBy.person,
            )
        )
        if text and text not in topic.examples.get(LEARNED, []):
            topic.examples = {**topic.examples, LEARNED: [*topic.examples.get(LEARNED, []), text]}
            topic.updated_at = utcnow()
            session.add(topic)
    session.flush()


def topics_of(session: Session, *, feedback_ids: Iterable[int]) -> dict[int, list[AssignedTopic]]:
    """Topics per feedback id, most confident first."""
    ids = list(feedback_ids)
    if not ids:
        return {}
    query = (
        sa_select(
            col(FeedbackTopic.feedback_id), col(Topic.key), col(Topic.name),
            col(FeedbackTopic.confidence), col(FeedbackTopic.assigned_by),
        )
        .join(Topic, col(Topic.id) == FeedbackTopic.topic_id)
        .where(col(FeedbackTopic.feedback_id).in_(ids))
        .order_by(col(FeedbackTopic.confidence).desc())
    )  # fmt: skip
    found: dict[int, list[AssignedTopic]] = {}
    for feedback_id, key, name, confidence, assigned_by in session.execute(query):
        found.setdefault(feedback_id, []).append(
            AssignedTopic(key=key, name=name, confidence=round(confidence, 3),
                          assigned_by=AssignedBy(assigned_by))
        )  # fmt: skip
    return found


def _kept_in_place(keys: list[str]) -> Any:
    """Key and id of these topics, locked ``FOR KEY SHARE`` on PostgreSQL: a merge or delete
    (which takes ``FOR UPDATE``) waits until the items that now name them are committed, and
    one that committed first leaves its topic out here instead of failing the insert."""
    query = select(Topic.key, Topic.id).where(col(Topic.key).in_(keys)).order_by(col(Topic.id))
    return query.with_for_update(read=True, key_share=True)


def find_topic(session: Session, key: str) -> Topic:
    """The topic with this key, or a 404."""
    topic = session.exec(select(Topic).where(Topic.key == key)).first()
    if topic is None:
        raise NotFound(f"no topic with key {key!r}")
    return topic


def public_topic(session: Session, topic: Topic) -> TopicPublic:
    """A stored topic as the API shows it."""
    return _public(topic, _keys(session))


def _topic_id(session: Session, key: str) -> int:
    topic_id = find_topic(session, key).id
    assert topic_id is not None
    return topic_id


def _keys(session: Session) -> dict[int | None, str]:
    return {topic_id: key for topic_id, key in session.exec(select(Topic.id, Topic.key))}


def _public(topic: Topic, keys: dict[Any, str]) -> TopicPublic:
    assert topic.id is not None
    return TopicPublic(
        id=topic.id,
        key=topic.key,
        name=topic.name,
        description=topic.description,
        parent=keys.get(topic.parent_id) if topic.parent_id else None,
        owner_team=topic.owner_team,
        origin=TopicOrigin(topic.origin),
        active=topic.active,
        examples=topic.examples,
    )


def store_model_topics(session: Session, *, assigned: dict[int, list[tuple[str, float]]]) -> None:
    """Replace the model's topics of these items; items a person corrected keep theirs."""
    if not assigned:
        return
    with tracking(session, assigned):  # topics move items between topic rollup rows
        _store_model_topics(session, assigned)


def _store_model_topics(session: Session, assigned: dict[int, list[tuple[str, float]]]) -> None:
    corrected = set(
        session.exec(
            select(FeedbackTopic.feedback_id).where(
                col(FeedbackTopic.feedback_id).in_(assigned),
                FeedbackTopic.assigned_by == AssignedBy.person.value,
            )
        ).all()
    )
    ids = [feedback_id for feedback_id in assigned if feedback_id not in corrected]
    session.execute(delete(FeedbackTopic).where(col(FeedbackTopic.feedback_id).in_(ids)))
    keys = sorted({key for feedback_id in ids for key, _ in assigned[feedback_id]})
    topic_ids = {key: topic_id for key, topic_id in session.exec(_kept_in_place(keys)) if topic_id}
    now = utcnow()
    rows = [
        {"feedback_id": feedback_id, "topic_id": topic_ids[key], "confidence": confidence,
         "assigned_by": AssignedBy.model.value, "created_at": now}
        for feedback_id in ids
        for key, confidence in assigned[feedback_id]
        if key in topic_ids  # a topic deleted meanwhile is skipped
    ]  # fmt: skip
    if rows:  # one statement for the batch (an ORM object per row cost 4x as much)
        table = FeedbackTopic.__table__  # type: ignore[attr-defined]
        session.execute(insert(table), rows)


def topic_examples(session: Session) -> list[tuple[str, tuple[str, ...]]]:
    """Active topics with all their example phrases (every language, and learned ones)."""
    query = select(Topic).where(col(Topic.active).is_(True)).order_by(col(Topic.key))
    return [
        (topic.key, tuple(p for phrases in topic.examples.values() for p in phrases))
        for topic in session.exec(query)
    ]


def taxonomy_version(session: Session) -> str:
    """Changes whenever a topic is added or edited (workers then rebuild their index)."""
    count, latest = session.exec(select(func.count(), func.max(Topic.updated_at))).one()
    return f"{count}:{latest}"
