"""Rollup tables: counts per day and dimension, kept current on every write to feedback.

A rollup row counts the feedback of one day (UTC) with one combination of source, channel,
language, segment and score type: how many items (``n``), how many gave each score value
(``score_0`` … ``score_10``; every score scale fits in 0-10) and how many read negative,
neutral or positive. Every metric is a sum over rows, so trend queries never read feedback.
Unknown values are stored as ``""`` (not NULL): NULLs never conflict in a unique key.
"""

from datetime import date

from sqlalchemy import Date, PrimaryKeyConstraint, String
from sqlmodel import Column, SQLModel
from sqlmodel import Field as SQLField

from hub.store.types import BigId

SCORE_VALUES = range(11)
SCORE_COLUMNS = tuple(f"score_{value}" for value in SCORE_VALUES)
SENTIMENTS = ("negative", "neutral", "positive")
# The measures of a rollup row, in the order every vector of counts uses.
MEASURES = ("n", *SCORE_COLUMNS, *SENTIMENTS)
DIMENSIONS = ("day", "source_id", "channel", "language", "segment", "score_type")
# Topics multiply rows, so their rollup keeps fewer dimensions (no language, no segment).
TOPIC_DIMENSIONS = ("day", "topic_id", "source_id", "channel", "score_type")
# Unfiltered trends read one row a day per score type.
DAILY_DIMENSIONS = ("day", "score_type")


class _Measures(SQLModel):
    """The counts every rollup row carries."""

    n: int = 0
    score_0: int = 0
    score_1: int = 0
    score_2: int = 0
    score_3: int = 0
    score_4: int = 0
    score_5: int = 0
    score_6: int = 0
    score_7: int = 0
    score_8: int = 0
    score_9: int = 0
    score_10: int = 0
    negative: int = 0
    neutral: int = 0
    positive: int = 0


class FeedbackRollup(_Measures, table=True):
    """Counts of all feedback per day x source x channel x language x segment x score type."""

    __tablename__ = "feedback_rollup"
    __table_args__ = (PrimaryKeyConstraint(*DIMENSIONS, name="pk_feedback_rollup"),)

    day: date = SQLField(sa_column=Column(Date, nullable=False))
    source_id: int = SQLField(sa_column=Column(BigId, nullable=False))
    channel: str = SQLField(sa_column=Column(String(20), nullable=False))
    language: str = SQLField(default="", sa_column=Column(String(16), nullable=False))
    segment: str = SQLField(default="", sa_column=Column(String(100), nullable=False))
    score_type: str = SQLField(default="", sa_column=Column(String(20), nullable=False))


class TopicRollup(_Measures, table=True):
    """The same counts for the feedback about one topic, per day x source x channel x score
    type (an item counts once per topic of it)."""

    __tablename__ = "topic_rollup"
    __table_args__ = (PrimaryKeyConstraint(*TOPIC_DIMENSIONS, name="pk_topic_rollup"),)

    day: date = SQLField(sa_column=Column(Date, nullable=False))
    topic_id: int = SQLField(sa_column=Column(BigId, nullable=False))
    source_id: int = SQLField(sa_column=Column(BigId, nullable=False))
    channel: str = SQLField(sa_column=Column(String(20), nullable=False))
    score_type: str = SQLField(default="", sa_column=Column(String(20), nullable=False))


class DailyRollup(_Measures, table=True):
    """The same counts per day x score type only: what a trend without filters reads (one row a
    day per score type, instead of one per source x channel x language x segment)."""

    __tablename__ = "daily_rollup"
    __table_args__ = (PrimaryKeyConstraint(*DAILY_DIMENSIONS, name="pk_daily_rollup"),)

    day: date = SQLField(sa_column=Column(Date, nullable=False))
    score_type: str = SQLField(default="", sa_column=Column(String(20), nullable=False))
