"""Curating the taxonomy: accept a discovered topic, merge one topic into another, remove one.

Which items carry which topic changes only inside :func:`~hub.metrics.service.tracking`, so
``topic_rollup`` stays equal to a rebuild. A merged or removed topic is taken out of use in this
order: its items are locked (as every writer of an item's topics does first), then the topic row
itself (``FOR UPDATE`` on PostgreSQL: putting a topic on an item checks the foreign key with a
share lock on it, so nobody can add this one to another item until we commit; SQLite has one
writer anyway). Items that got the topic between the two steps are tracked too. A merged topic is
deleted rather than kept as an inactive stub: its items, examples, children and the routing rules
naming it all move to the topic that stays, so nothing refers to it any more, its key is free
again, and trends show its history under the kept topic.
"""

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

from sqlalchemy import Table, delete, func, select, update
from sqlmodel import Session, col

from hub.errors import Conflict, InvalidInput, NotFound
from hub.metrics.service import TOPIC_ROLLUP, tracking, write_pending
from hub.store.types import utcnow
from hub.store.upsert import lock_for_writing
from hub.topics.models import (
    AssignedBy,
    FeedbackTopic,
    Topic,
    TopicAccept,
    TopicMerged,
    TopicOrigin,
    TopicPublic,
    TopicUpdate,
)
from hub.topics.rule_refs import replace_in_rules, rules_naming
from hub.topics.service import find_topic, public_topic, update_topic

FEEDBACK_TOPIC: Table = FeedbackTopic.__table__  # type: ignore[attr-defined]
TRACKED_CHUNK = 5000  # items per tracking block: IN lists stay far below the drivers' limits


def accept_topic(session: Session, *, key: str, data: TopicAccept) -> TopicPublic:
    """A discovered topic becomes curated and active (under a new key, name… if given)."""
    topic = find_topic(session, key)
    if topic.origin != TopicOrigin.discovered:
        raise InvalidInput(f"topic {key!r} is not a suggestion: it is {topic.origin} already")
    changes = data.model_dump(exclude_unset=True)
    return update_topic(session, key=key, data=TopicUpdate(**changes, active=True))


def merge_topics(session: Session, *, key: str, into: str) -> TopicMerged:
    """Move every item, example, child and rule of topic ``key`` to ``into``; delete ``key``.

    An item that had both keeps one row: a person's over the model's, else the more confident.
    """
    lock_for_writing(session)  # SQLite: one writer from here on, before anything is read
    source, target = find_topic(session, key), find_topic(session, into)
    if source.id == target.id:
        raise InvalidInput("a topic cannot be merged into itself")
    target = _locked(session, target, key_share=True)  # it cannot go away meanwhile
    if not target.active or target.origin == TopicOrigin.discovered:
        raise InvalidInput(
            f"merge into an active, accepted topic: {into!r} is "
            + ("a suggestion" if target.origin == TopicOrigin.discovered else "inactive")
        )
    assert source.id is not None and target.id is not None
    with _taken_out_of_use(session, source) as moved:
        takes_its_place = _descends_from(session, target, source)
        _keep_the_better_row(session, source.id, target.id)
        session.execute(
            update(FEEDBACK_TOPIC)
            .where(FEEDBACK_TOPIC.c.topic_id == source.id)
            .values(topic_id=target.id)
        )
        _reparent_children(session, source, new_parent=target)
        if takes_its_place:  # the target was below the merged topic: it moves up to its place
            target.parent_id = source.parent_id
        target.examples = _joined(target.examples, source.examples)
        target.updated_at = utcnow()
        session.add(target)
        rules = replace_in_rules(session, old=source.key, new=target.key)
        _delete(session, source)
    return TopicMerged(topic=public_topic(session, target), moved=len(moved), rules=rules)


def remove_topic(session: Session, *, key: str) -> None:
    """Dismiss a suggestion, or delete a topic no item carries (one in use is merged instead)."""
    lock_for_writing(session)
    topic = find_topic(session, key)
    suggestion = topic.origin == TopicOrigin.discovered
    if not suggestion:  # a quick refusal, before any item is locked
        count = select(func.count()).where(FEEDBACK_TOPIC.c.topic_id == topic.id)
        _refuse_if_carried(key, session.execute(count).scalar_one())
    rules = rules_naming(session, key)
    if rules:
        names = ", ".join(repr(rule.name) for rule in rules)
        raise Conflict(
            f"routing rules name topic {key!r} ({names}): change them first, or merge the topic",
            details={"rules": [rule.name for rule in rules]},
        )
    with _taken_out_of_use(session, topic) as carriers:
        if not suggestion:  # someone may have put it on an item since
            _refuse_if_carried(key, len(carriers))
        _take_off_and_delete(session, topic)


def _refuse_if_carried(key: str, items: int) -> None:
    if items:
        raise Conflict(
            f"{items} items carry topic {key!r}: merge it into another topic instead",
            details={"items": items},
        )


def drop_suggestions(session: Session) -> int:
    """Remove the discovered topics nobody accepted (those a routing rule names stay)."""
    lock_for_writing(session)
    query = select(Topic).where(
        col(Topic.origin) == TopicOrigin.discovered.value, col(Topic.active).is_(False)
    )
    dropped = 0
    for topic in session.scalars(query).all():
        if not rules_naming(session, topic.key):
            with _taken_out_of_use(session, topic):
                _take_off_and_delete(session, topic)
            dropped += 1
    return dropped


def _take_off_and_delete(session: Session, topic: Topic) -> None:
    """Take the topic off every item (tracked by the caller), give its children its parent,
    delete it."""
    session.execute(delete(FEEDBACK_TOPIC).where(FEEDBACK_TOPIC.c.topic_id == topic.id))
    _reparent_children(session, topic, new_parent=None)
    _delete(session, topic)


@contextmanager
def _taken_out_of_use(session: Session, topic: Topic) -> Iterator[list[int]]:
    """Track every item carrying ``topic`` while nobody else can put it on another item.

    Yields the ids of those items. On exit their rollup contribution follows the change, and
    the topic's own rollup rows (all zero by then) go.
    """
    lock_for_writing(session)
    ids = _carrying(session, topic)
    with ExitStack() as tracked:
        for chunk in _chunks(ids):
            tracked.enter_context(tracking(session, chunk))
        _locked(session, topic, key_share=False)
        late = sorted(set(_carrying(session, topic)) - set(ids))  # added before our lock
        for chunk in _chunks(late):
            tracked.enter_context(tracking(session, chunk))
        yield [*ids, *late]
    write_pending(session)  # the topic's rows are all zero only once its deltas are written
    session.execute(delete(TOPIC_ROLLUP).where(TOPIC_ROLLUP.c.topic_id == topic.id))


def _locked(session: Session, topic: Topic, *, key_share: bool) -> Topic:
    """The topic re-read under a row lock (PostgreSQL; SQLite holds its write lock already):
    ``FOR UPDATE`` keeps it off other items, ``FOR NO KEY UPDATE`` only keeps it in place."""
    query = (
        select(Topic)
        .where(col(Topic.id) == topic.id)
        .with_for_update(key_share=key_share)
        .execution_options(populate_existing=True)
    )
    found = session.scalars(query).first()
    if found is None:
        raise NotFound(f"topic {topic.key!r} was just removed")
    return found


def _carrying(session: Session, topic: Topic) -> list[int]:
    ft = FEEDBACK_TOPIC.c
    query = select(ft.feedback_id).where(ft.topic_id == topic.id).order_by(ft.feedback_id)
    return list(session.execute(query).scalars())


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), TRACKED_CHUNK):
        yield ids[start : start + TRACKED_CHUNK]


def _keep_the_better_row(session: Session, source_id: int, target_id: int) -> None:
    """Items with both topics: the target's row takes the source's assignment if that wins,
    and the source's row goes."""
    ft = FEEDBACK_TOPIC.c
    kept = FEEDBACK_TOPIC.alias("kept")
    pairs = session.execute(
        select(kept.c.id, kept.c.confidence, kept.c.assigned_by, ft.confidence, ft.assigned_by)
        .join(kept, (kept.c.feedback_id == ft.feedback_id) & (kept.c.topic_id == target_id))
        .where(ft.topic_id == source_id)
    ).all()
    for row_id, confidence, assigned_by, merged_confidence, merged_by in pairs:
        if _rank(merged_by, merged_confidence) > _rank(assigned_by, confidence):
            session.execute(
                update(FEEDBACK_TOPIC)
                .where(ft.id == row_id)
                .values(confidence=merged_confidence, assigned_by=merged_by)
            )
    both = select(kept.c.feedback_id).where(kept.c.topic_id == target_id)
    session.execute(
        delete(FEEDBACK_TOPIC).where(ft.topic_id == source_id, ft.feedback_id.in_(both))
    )


def _rank(assigned_by: str, confidence: float) -> tuple[bool, float]:
    return (assigned_by == AssignedBy.person, confidence)


def _reparent_children(session: Session, topic: Topic, *, new_parent: Topic | None) -> None:
    """Children of ``topic`` move under ``new_parent``, or under ``topic``'s own parent."""
    parent_id = new_parent.id if new_parent else topic.parent_id
    children = session.scalars(select(Topic).where(col(Topic.parent_id) == topic.id)).all()
    for child in children:
        child.parent_id = None if child.id == parent_id else parent_id
        child.updated_at = utcnow()
        session.add(child)
    session.flush()


def _descends_from(session: Session, topic: Topic, ancestor: Topic) -> bool:
    """Whether ``ancestor`` is above ``topic`` in the taxonomy."""
    query = select(col(Topic.id), col(Topic.parent_id))
    parents: dict[int | None, int | None] = {row[0]: row[1] for row in session.execute(query)}
    seen: set[int] = set()
    current = parents.get(topic.id)
    while current is not None and current not in seen:
        if current == ancestor.id:
            return True
        seen.add(current)
        current = parents.get(current)
    return False


def _joined(kept: dict[str, list[str]], merged: dict[str, list[str]]) -> dict[str, list[str]]:
    """Both topics' example phrases per language, the kept topic's first, each phrase once."""
    joined = {language: list(phrases) for language, phrases in kept.items()}
    for language, phrases in merged.items():
        joined[language] = list(dict.fromkeys([*joined.get(language, []), *phrases]))
    return joined


def _delete(session: Session, topic: Topic) -> None:
    session.delete(topic)
    session.flush()
