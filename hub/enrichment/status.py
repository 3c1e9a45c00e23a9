"""Is enrichment running with sentiment? Read from what the workers wrote, never from a model.

Workers run in other processes, so the API learns what they do from the rows: every enriched item
carries the pipeline's version in ``nlp_model`` (``language=…;embedder=…;sentiment=…``), and a
worker without a usable sentiment model writes a version with no ``sentiment=`` part. This looks
at the newest enriched items only, and counts the queue up to a limit, so it stays cheap at
millions of rows: every query here is a range of ``ix_feedback_nlp_state``.
"""

import threading
import time
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Table, func, select
from sqlmodel import Session

from hub.feedback.models import Feedback, NlpState

FEEDBACK: Table = Feedback.__table__  # type: ignore[attr-defined]
WINDOW = 200  # the newest enriched items looked at
COUNT_LIMIT = 10_000  # pending and failed are counted up to this
SENTIMENT_PART = "sentiment="
CACHE_SECONDS = 5.0


class SentimentState(StrEnum):
    idle = "idle"  # nothing enriched yet
    ok = "ok"  # every item looked at has sentiment
    off = "off"  # the newest item has none: a worker runs without a sentiment model now
    partial = "partial"  # the newest has it, some of the others do not (a fix, or mixed workers)


class NlpStatus(BaseModel):
    """What the newest enriched items say about sentiment, and the size of the queue."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    sentiment: SentimentState
    """`idle` (nothing enriched yet), `ok`, `off` (the newest enriched item has no sentiment) or
    `partial` (it has, but some of the others looked at have not)."""
    window: int = WINDOW
    """How many of the newest enriched items are looked at, at most."""
    checked: int
    """Enriched items looked at: the newest by id, at most `window`."""
    without_sentiment: int
    """How many of those were analysed without a sentiment model."""
    streak: int
    """The newest items in a row without one (`streak == window`: at least that many)."""
    since: datetime | None
    """When the oldest item of the streak was received: about when sentiment went off (or
    earlier, when the streak fills the window)."""
    created_from: datetime | None
    """The earliest `created_at` in the streak: the date for `nlp reprocess --since` to redo
    those items once a sentiment model is back."""
    model: str | None
    """The pipeline version (`nlp_model`) of the newest enriched item."""
    pending: int
    """Items waiting for a worker (counted up to `count_limit`)."""
    failed: int
    """Items the workers gave up on (counted up to `count_limit`)."""
    count_limit: int = COUNT_LIMIT
    """`pending` and `failed` are counted up to this; that value means at least that many."""

    @property
    def sentiment_off(self) -> bool:
        """The newest enriched item has no sentiment: what the admin banner says."""
        return self.sentiment is SentimentState.off

    @property
    def streak_capped(self) -> bool:
        return self.streak >= self.window


def has_sentiment(model: str | None) -> bool:
    """Whether a pipeline version names a sentiment model."""
    return model is not None and any(
        part.strip().startswith(SENTIMENT_PART) for part in model.split(";")
    )


def nlp_status(session: Session) -> NlpStatus:
    """The sentiment state of the newest ``WINDOW`` enriched items and the queue's size."""
    c = FEEDBACK.c
    newest = session.connection().execute(
        select(c.id, c.nlp_model, c.received_at, c.created_at)
        .where(c.nlp_state == NlpState.done.value)
        .order_by(c.id.desc())
        .limit(WINDOW)
    )
    rows = newest.all()
    lacking = [not has_sentiment(row.nlp_model) for row in rows]
    streak = next((n for n, lacks in enumerate(lacking) if not lacks), len(lacking))
    streak_rows = rows[:streak]
    return NlpStatus(
        sentiment=_state(lacking, streak),
        window=WINDOW,
        checked=len(rows),
        without_sentiment=sum(lacking),
        streak=streak,
        since=streak_rows[-1].received_at if streak_rows else None,
        created_from=min((row.created_at for row in streak_rows), default=None),
        model=rows[0].nlp_model if rows else None,
        pending=_count(session, NlpState.pending),
        failed=_count(session, NlpState.failed),
        count_limit=COUNT_LIMIT,
    )


def _state(lacking: list[bool], streak: int) -> SentimentState:
    if not lacking:
        return SentimentState.idle
    if streak:
        return SentimentState.off
    return SentimentState.partial if any(lacking) else SentimentState.ok


def _count(session: Session, state: NlpState) -> int:
    """Items in ``state``, counted up to ``COUNT_LIMIT`` (a bounded range of the index)."""
    c = FEEDBACK.c
    # Only the indexed column: an index-only scan on PostgreSQL, a covering index on SQLite.
    bounded = select(c.nlp_state).where(c.nlp_state == state.value).limit(COUNT_LIMIT).subquery()
    count = session.connection().execute(select(func.count()).select_from(bounded)).scalar_one()
    return int(count)


class NlpStatusCache:
    """:func:`nlp_status` kept for ``seconds`` per process, so pages can show it on every load."""

    def __init__(
        self, seconds: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._value: NlpStatus | None = None
        self._until = 0.0

    def get(self, session: Session) -> NlpStatus:
        """The cached status, or a fresh one read with ``session`` once it is older than
        ``seconds`` (one request refreshes it; the others meanwhile wait for that one)."""
        with self._lock:
            if self._value is None or self._clock() >= self._until:
                self._value = nlp_status(session)
                self._until = self._clock() + self.seconds
            return self._value
