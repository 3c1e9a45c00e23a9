"""Rollup maintenance: every write that changes what a metric counts adds its delta here.

The rule is *subtract the old contribution, add the new one*, in the writer's transaction:

- ingest adds the contribution of the rows it created (a duplicate adds nothing);
- NLP writes and people's corrections wrap their change in :func:`tracking`, which reads the
  items' facts (day, source, channel, language, segment, score, sentiment, topics) before and
  after, and applies the difference;
- a customer's new segment moves the contribution of all their feedback (:func:`segment_change`).

Deltas are merged per rollup key and written with ``INSERT … ON CONFLICT DO UPDATE SET
n = n + excluded.n`` (one statement, keys sorted), so concurrent writers add up instead of
overwriting each other. Before reading facts, :func:`tracking` locks the feedback rows
(PostgreSQL ``FOR UPDATE``; SQLite's write lock), so two writers of one item cannot both
subtract the same old contribution. :func:`rebuild` recomputes everything from scratch.
"""

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Date,
    Table,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from hub.customers.models import Customer
from hub.feedback.models import Feedback
from hub.metrics.models import (
    DAILY_DIMENSIONS,
    DIMENSIONS,
    MEASURES,
    SCORE_VALUES,
    SENTIMENTS,
    TOPIC_DIMENSIONS,
    DailyRollup,
    FeedbackRollup,
    TopicRollup,
)
from hub.store.upsert import lock_for_writing
from hub.topics.models import FeedbackTopic

PENDING = "rollup_deltas"  # session.info key: the deltas of the open transaction
FEEDBACK_ROLLUP: Table = FeedbackRollup.__table__  # type: ignore[attr-defined]
TOPIC_ROLLUP: Table = TopicRollup.__table__  # type: ignore[attr-defined]
DAILY_ROLLUP: Table = DailyRollup.__table__  # type: ignore[attr-defined]
FEEDBACK: Table = Feedback.__table__  # type: ignore[attr-defined]
CUSTOMER: Table = Customer.__table__  # type: ignore[attr-defined]
FEEDBACK_TOPIC: Table = FeedbackTopic.__table__  # type: ignore[attr-defined]

Key = tuple[Any, ...]
Delta = list[int]  # one count per MEASURES entry


@dataclass(frozen=True, slots=True)
class Fact:
    """What the rollups count of one feedback item."""

    day: date
    source_id: int
    channel: str
    language: str
    segment: str
    score_type: str
    score: int | None
    sentiment: str
    topic_ids: tuple[int, ...] = ()

    @property
    def key(self) -> Key:
        """Its feedback_rollup key (in DIMENSIONS order)."""
        return (self.day, self.source_id, self.channel, self.language, self.segment,
                self.score_type)  # fmt: skip

    def measures(self) -> Delta:
        """Its counts: one item, its score value and its sentiment."""
        counts = [0] * len(MEASURES)
        counts[0] = 1
        if self.score is not None:
            counts[1 + self.score] = 1
        if self.sentiment in SENTIMENTS:
            counts[1 + len(SCORE_VALUES) + SENTIMENTS.index(self.sentiment)] = 1
        return counts


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of a timestamp (the day the rollups file it under)."""
    if moment.tzinfo is None or moment.tzinfo is UTC:
        return moment.date()
    return moment.astimezone(UTC).date()


def apply(session: Session, *, before: Iterable[Fact], after: Iterable[Fact]) -> None:
    """Subtract the ``before`` contributions and add the ``after`` ones.

    The deltas wait in the session and are written when it commits (or at
    :func:`write_pending`), in one sorted upsert per table: a transaction then locks all the
    rollup rows it changes in one pass, as its last step, so writers never wait on each other's
    rollup rows while holding other locks (no deadlocks), and hold these hot rows briefly.
    """
    _apply_weighted(session, [*((fact, -1) for fact in before), *((fact, 1) for fact in after)])


def _apply_weighted(session: Session, weighted: Iterable[tuple[Fact, int]]) -> None:
    """Add each fact's counts ``weight`` times (negative: subtract)."""
    totals, daily, topics = session.info.setdefault(PENDING, ({}, {}, {}))
    for fact, weight in weighted:
        counts = fact.measures()
        _add(totals, fact.key, counts, weight)
        _add(daily, (fact.day, fact.score_type), counts, weight)
        for topic_id in fact.topic_ids:
            key = (fact.day, topic_id, fact.source_id, fact.channel, fact.score_type)
            _add(topics, key, counts, weight)


def write_pending(session: Session) -> None:
    """Write the rollup deltas this transaction has made so far (before reading or deleting
    rollup rows in the same transaction)."""
    pending = session.info.pop(PENDING, None)
    if pending is not None:
        totals, daily, topics = pending
        _upsert(session, FEEDBACK_ROLLUP, DIMENSIONS, totals)
        _upsert(session, DAILY_ROLLUP, DAILY_DIMENSIONS, daily)
        _upsert(session, TOPIC_ROLLUP, TOPIC_DIMENSIONS, topics)


def forget_pending(session: Session) -> None:
    """Drop the deltas of a transaction that rolled back."""
    session.info.pop(PENDING, None)


def _add(deltas: dict[Key, Delta], key: Key, counts: Delta, weight: int) -> None:
    delta = deltas.setdefault(key, [0] * len(MEASURES))
    for index, count in enumerate(counts):
        if count:
            delta[index] += weight * count


def _upsert(session: Session, table: Table, names: Sequence[str], deltas: dict[Key, Delta]) -> None:
    # Sorted keys: concurrent writers take row locks in one order, so they cannot deadlock.
    changed = sorted((key, delta) for key, delta in deltas.items() if any(delta))
    if not changed:
        return
    if session.get_bind().dialect.name == "sqlite":
        _sqlite_upsert(session, table, names, changed)
        return
    rows = [
        dict(zip(names, key, strict=True)) | dict(zip(MEASURES, delta, strict=True))
        for key, delta in changed
    ]
    session.execute(_postgres_upsert(table, tuple(names)), rows)


@cache
def _postgres_upsert(table: Table, names: tuple[str, ...]) -> postgresql.Insert:
    """``INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n``, built once per table (building
    it costs about a millisecond: the rollup tables are wide)."""
    statement = postgresql.insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(names),
        set_={name: table.c[name] + statement.excluded[name] for name in MEASURES},
    )


def _sqlite_upsert(
    session: Session, table: Table, names: Sequence[str], changed: list[tuple[Key, Delta]]
) -> None:
    """The same upsert through the driver's executemany (ingest's hot path: no per-row
    SQLAlchemy overhead); days as the "YYYY-MM-DD" text SQLAlchemy's Date stores on SQLite."""
    columns = [*names, *MEASURES]
    sql = (
        f'INSERT INTO "{table.name}" ({", ".join(columns)}) '  # noqa: S608 (names are ours)
        f"VALUES ({', '.join('?' for _ in columns)}) ON CONFLICT ({', '.join(names)}) "
        f"DO UPDATE SET {', '.join(f'{m} = {m} + excluded.{m}' for m in MEASURES)}"
    )
    rows = [(key[0].isoformat(), *key[1:], *delta) for key, delta in changed]
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def record_new(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Add the contribution of rows ingest just created (no NLP results yet, so no topics).

    Rows are counted by their rollup values first: a batch costs one Fact per distinct
    combination (day, source, channel, language, segment, score) rather than one per row."""
    customer_ids = {row["customer_id"] for row in rows if row["customer_id"] is not None}
    segments = _segments(session, customer_ids)
    counted = Counter(
        (utc_day(row["created_at"]), row["source_id"], row["channel"],
         row.get("language") or "", segments.get(row["customer_id"], ""),
         row["score_type"] or "", row["score"], row.get("sentiment") or "")
        for row in rows
    )  # fmt: skip
    _apply_weighted(session, ((Fact(*values), n) for values, n in counted.items()))


def _segments(session: Session, customer_ids: set[int]) -> dict[int, str]:
    """Customers' segments; on PostgreSQL ``FOR SHARE``, so a concurrent segment change waits
    for this transaction (and then moves these items too) or commits first (and this reads it)."""
    if not customer_ids:
        return {}
    c = CUSTOMER.c
    query = select(c.id, c.segment).where(c.id.in_(sorted(customer_ids)))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    return {row.id: row.segment or "" for row in session.execute(query)}


def facts_of(session: Session, feedback_ids: Iterable[int]) -> dict[int, Fact]:
    """The current facts of stored items, by id."""
    ids = sorted(set(feedback_ids))
    if not ids:
        return {}
    f, c, ft = FEEDBACK.c, CUSTOMER.c, FEEDBACK_TOPIC.c
    query = (
        select(f.id, f.created_at, f.source_id, f.channel, f.language, c.segment,
               f.score_type, f.score, f.sentiment)
        .select_from(FEEDBACK.outerjoin(CUSTOMER, c.id == f.customer_id))
        .where(f.id.in_(ids))
    )  # fmt: skip
    topics: dict[int, list[int]] = {}
    for feedback_id, topic_id in session.execute(
        select(ft.feedback_id, ft.topic_id).where(ft.feedback_id.in_(ids)).order_by(ft.topic_id)
    ):
        topics.setdefault(feedback_id, []).append(topic_id)
    return {
        row.id: Fact(
            day=utc_day(row.created_at),
            source_id=row.source_id,
            channel=row.channel,
            language=row.language or "",
            segment=row.segment or "",
            score_type=row.score_type or "",
            score=row.score,
            sentiment=row.sentiment or "",
            topic_ids=tuple(topics.get(row.id, ())),
        )
        for row in session.execute(query)
    }


def _lock(session: Session, feedback_ids: Sequence[int]) -> None:
    """Hold these items until commit: no other writer changes them between our two reads."""
    lock_for_writing(session)  # SQLite: one writer from here on; PostgreSQL: nothing
    if feedback_ids and session.get_bind().dialect.name == "postgresql":
        f = FEEDBACK.c
        session.execute(
            select(f.id).where(f.id.in_(feedback_ids)).order_by(f.id).with_for_update()
        ).all()


@contextmanager
def tracking(session: Session, feedback_ids: Iterable[int]) -> Iterator[None]:
    """Wrap a change to these items: their rollup contribution follows it (not on error)."""
    ids = sorted(set(feedback_ids))
    _lock(session, ids)
    before = facts_of(session, ids)
    yield
    session.flush()
    after = facts_of(session, ids)
    apply(session, before=before.values(), after=after.values())


@contextmanager
def segment_change(session: Session, customer_id: int) -> Iterator[None]:
    """Wrap a change of a customer's segment: all their feedback moves to the new one."""
    c, f = CUSTOMER.c, FEEDBACK.c
    lock_for_writing(session)
    if session.get_bind().dialect.name == "postgresql":
        # First, so new items wait for us (ingest reads segments FOR SHARE). FOR NO KEY UPDATE,
        # not FOR UPDATE: a worker re-updating this customer's items re-checks their foreign
        # key (FOR KEY SHARE) while it holds them, and must not wait for us while we wait for it.
        lock = select(c.id).where(c.id == customer_id).with_for_update(key_share=True)
        session.execute(lock).all()
    ids = session.execute(select(f.id).where(f.customer_id == customer_id)).scalars().all()
    with tracking(session, ids):
        yield


# --- rebuild ---------------------------------------------------------------------------------


def _day(session: Session) -> ColumnElement[Any]:
    created = FEEDBACK.c.created_at
    if session.get_bind().dialect.name == "sqlite":
        return func.date(created)  # "YYYY-MM-DD", the text SQLAlchemy's Date stores
    return cast(created, Date)


def _measure_columns() -> list[ColumnElement[Any]]:
    f = FEEDBACK.c
    return [
        func.count().label("n"),
        *(func.sum(case((f.score == value, 1), else_=0)).label(f"score_{value}")
          for value in SCORE_VALUES),
        *(func.sum(case((f.sentiment == label, 1), else_=0)).label(label) for label in SENTIMENTS),
    ]  # fmt: skip


def _dimension_columns(session: Session) -> list[ColumnElement[Any]]:
    f, c = FEEDBACK.c, CUSTOMER.c
    return [
        _day(session).label("day"),
        f.source_id,
        f.channel,
        func.coalesce(f.language, literal("")).label("language"),
        func.coalesce(c.segment, literal("")).label("segment"),
        func.coalesce(f.score_type, literal("")).label("score_type"),
    ]


def _rebuild_range(session: Session, start: datetime | None, end: datetime | None) -> None:
    """Recompute feedback and topic rollups for feedback created in [start, end)."""
    f, c, ft = FEEDBACK.c, CUSTOMER.c, FEEDBACK_TOPIC.c
    window = [f.created_at >= start] if start else []
    window += [f.created_at < end] if end else []
    dims = _dimension_columns(session)
    joined = FEEDBACK.outerjoin(CUSTOMER, c.id == f.customer_id)
    totals = select(*dims, *_measure_columns()).select_from(joined).where(*window)
    session.execute(
        insert(FEEDBACK_ROLLUP).from_select([*DIMENSIONS, *MEASURES], totals.group_by(*dims))
    )
    topic_dims = [dims[0], ft.topic_id, dims[1], dims[2], dims[5]]
    per_topic = (
        select(*topic_dims, *_measure_columns())
        .select_from(FEEDBACK_TOPIC.join(FEEDBACK, f.id == ft.feedback_id))
        .where(*window)
        .group_by(*topic_dims)
    )  # fmt: skip
    session.execute(insert(TOPIC_ROLLUP).from_select([*TOPIC_DIMENSIONS, *MEASURES], per_topic))


def rebuild(
    session: Session,
    *,
    chunk_days: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Recompute the rollups from the feedback table; returns the feedback_rollup row count.

    ``chunk_days`` splits the work into ranges of created days (for a progress bar); ``progress``
    is called with (done, total) after each. Writers wait until this transaction commits.
    """
    _lock_rollups(session)
    for table in (TOPIC_ROLLUP, DAILY_ROLLUP, FEEDBACK_ROLLUP):
        session.execute(delete(table))
    ranges = _ranges(session, chunk_days)
    for done, (start, end) in enumerate(ranges, start=1):
        _rebuild_range(session, start, end)
        if progress is not None:
            progress(done, len(ranges))
    r = FEEDBACK_ROLLUP.c
    per_day = select(r.day, r.score_type, *(func.sum(r[m]) for m in MEASURES)).group_by(
        r.day, r.score_type
    )
    session.execute(insert(DAILY_ROLLUP).from_select([*DAILY_DIMENSIONS, *MEASURES], per_day))
    return int(session.execute(select(func.count()).select_from(FEEDBACK_ROLLUP)).scalar_one())


def _lock_rollups(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # EXCLUSIVE: readers go on; concurrent upserts wait, then add to the rebuilt rows.
        session.execute(
            text("LOCK TABLE feedback_rollup, daily_rollup, topic_rollup IN EXCLUSIVE MODE")
        )
    else:
        lock_for_writing(session)


def _ranges(
    session: Session, chunk_days: int | None
) -> list[tuple[datetime | None, datetime | None]]:
    """[start, end) ranges of created_at on whole UTC days, covering every item."""
    if not chunk_days:
        return [(None, None)]
    f = FEEDBACK.c
    first, last = session.execute(select(func.min(f.created_at), func.max(f.created_at))).one()
    if first is None:
        return [(None, None)]
    start = datetime.combine(utc_day(first), datetime.min.time(), tzinfo=UTC)
    ranges: list[tuple[datetime | None, datetime | None]] = []
    while start <= last:
        end = start + timedelta(days=chunk_days)
        ranges.append((start, end))
        start = end
    return ranges
