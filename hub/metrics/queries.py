"""Metric reports and topic trends, computed from the rollup tables only (never from feedback).

SQL sums the rollup counts per day (and per group); Python folds days into periods (day, ISO
week, month) and applies the metric math of :mod:`hub.metrics.stats`.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    Table,
    case,
    cast,
    func,
    literal,
    null,
    select,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from hub.errors import InvalidInput
from hub.metrics.models import MEASURES
from hub.metrics.service import DAILY_ROLLUP, FEEDBACK_ROLLUP, TOPIC_ROLLUP
from hub.metrics.stats import METRICS, nps, sentiment, two_proportion_z
from hub.sources.models import Source
from hub.store.types import utcnow
from hub.topics.models import Topic

MAX_PERIODS = 1000
ALPHA = 0.05
Counts = list[int]
Key = str | ColumnElement[Any]  # a rollup column's name, or an expression over the columns


class Interval(StrEnum):
    day = "day"
    week = "week"
    month = "month"


class Dimension(StrEnum):
    source = "source"
    channel = "channel"
    segment = "segment"
    language = "language"
    topic = "topic"


DEFAULT_SPAN = {Interval.day: 30, Interval.week: 12 * 7, Interval.month: 365}
COLUMN = {Dimension.source: "source_id", Dimension.channel: "channel",
          Dimension.segment: "segment", Dimension.language: "language",
          Dimension.topic: "topic_id"}  # fmt: skip


@dataclass(frozen=True)
class Window:
    """Days ``start`` to ``end`` (inclusive), reported per ``interval``."""

    start: date
    end: date
    interval: Interval

    @classmethod
    def of(cls, start: date | None, end: date | None, interval: Interval) -> "Window":
        """A window from optional bounds: ``end`` defaults to today (UTC), ``start`` to a span
        that suits the interval (30 days, 12 weeks, a year)."""
        end = end or utcnow().date()
        start = start or end - timedelta(days=DEFAULT_SPAN[interval] - 1)
        if start > end:
            raise InvalidInput("`from` is after `to`", details={"from": str(start), "to": str(end)})
        window = cls(start, end, interval)
        if len(window.periods()) > MAX_PERIODS:
            raise InvalidInput(f"more than {MAX_PERIODS} periods: use a longer interval")
        return window

    def period(self, day: date) -> date:
        """The first day of the period ``day`` falls in."""
        if self.interval is Interval.week:
            return day - timedelta(days=day.weekday())
        if self.interval is Interval.month:
            return day.replace(day=1)
        return day

    def periods(self) -> list[date]:
        """Every period of the window, in order (empty ones too, so gaps show)."""
        found: list[date] = []
        current = self.period(self.start)
        while current <= self.end and len(found) <= MAX_PERIODS:
            found.append(current)
            current = self._next(current)
        return found

    def _next(self, current: date) -> date:
        if self.interval is Interval.month:
            return (current.replace(day=28) + timedelta(days=4)).replace(day=1)
        return current + timedelta(days=7 if self.interval is Interval.week else 1)


@dataclass(frozen=True)
class Filters:
    """Which feedback counts: each list is "any of"; empty lists do not filter."""

    sources: Sequence[str] = ()
    channels: Sequence[str] = ()
    segments: Sequence[str] = ()
    languages: Sequence[str] = ()
    topic: str | None = None


def _zero() -> Counts:
    return [0] * len(MEASURES)


def _add(total: Counts, counts: Sequence[int]) -> None:
    for index, count in enumerate(counts):
        total[index] += count


def _conditions(
    session: Session, table: Table, filters: Filters, start: date, end: date
) -> list[ColumnElement[bool]]:
    c = table.c
    conditions: list[ColumnElement[bool]] = [c.day >= start, c.day <= end]
    if filters.sources:
        conditions.append(c.source_id.in_(_source_ids(session, filters.sources)))
    if table is TOPIC_ROLLUP and (filters.segments or filters.languages):
        raise InvalidInput(
            "topics are rolled up per source and channel: a topic cannot be combined with a "
            "segment or language filter"
        )
    for name, values in (("channel", filters.channels), ("segment", filters.segments),
                         ("language", filters.languages)):  # fmt: skip
        if values:
            conditions.append(c[name].in_(["" if value == "none" else value for value in values]))
    if filters.topic is not None:
        conditions.append(c.topic_id == _topic_ids(session, [filters.topic])[filters.topic])
    return conditions


def _source_ids(session: Session, names: Sequence[str]) -> list[int]:
    query = select(col(Source.name), col(Source.id)).where(col(Source.name).in_(names))
    found = {name: source_id for name, source_id in session.execute(query)}
    missing = sorted(set(names) - found.keys())
    if missing:
        raise InvalidInput(f"no source named {missing[0]!r}", details={"source": missing})
    return list(found.values())


def _topic_ids(session: Session, keys: Sequence[str]) -> dict[str, int]:
    query = select(col(Topic.key), col(Topic.id)).where(col(Topic.key).in_(keys))
    found = {key: topic_id for key, topic_id in session.execute(query)}
    missing = sorted(set(keys) - found.keys())
    if missing:
        raise InvalidInput(f"no topic with key {missing[0]!r}", details={"topic": missing})
    return found


def _rows(
    session: Session,
    *,
    table: Table,
    keys: Sequence[Key],
    conditions: Sequence[ColumnElement[bool]],
) -> list[tuple[tuple[Any, ...], Counts]]:
    """Summed counts grouped by ``keys`` (column names or expressions): [(key values, counts)]."""
    c = table.c
    columns = [c[key] if isinstance(key, str) else key for key in keys]
    sums = [func.sum(c[name]) for name in MEASURES]
    query = select(*columns, *sums).where(*conditions).group_by(*columns)
    width = len(keys)
    return [(tuple(row[:width]), [int(v or 0) for v in row[width:]])
            for row in session.execute(query).all()]  # fmt: skip


def _period(session: Session, table: Table, interval: Interval) -> ColumnElement[date]:
    """The first day of each rollup row's period (as :meth:`Window.period` computes it), in SQL:
    the database sums a week or a month, and Python folds a few rows instead of every day."""
    day = table.c.day
    if interval is Interval.day:
        return day
    if session.get_bind().dialect.name == "postgresql":  # date arithmetic: no time zones
        part = "isodow" if interval is Interval.week else "day"
        return type_coerce(day - cast(func.extract(part, day), Integer) + 1, Date)
    if interval is Interval.week:  # SQLite: on to the week's Sunday, back to its Monday
        return type_coerce(func.date(day, "weekday 0", "-6 days"), Date)
    return type_coerce(func.date(day, "start of month"), Date)


def metric_report(
    session: Session,
    *,
    metric: str,
    window: Window,
    filters: Filters = Filters(),
    by: Dimension | None = None,
) -> dict[str, Any]:
    """A metric over the window: the summary, a series per period and, with ``by``, per group."""
    compute = METRICS[metric]
    report: dict[str, Any] = {"metric": metric, "from": window.start, "to": window.end,
                              "interval": window.interval.value}  # fmt: skip
    overall = _series(session, metric=metric, window=window, filters=filters, by=None)
    total, series = overall.get((), (_zero(), {}))
    report |= compute(total)
    report["series"] = _points(window, series, compute)
    report["groups"] = []
    if by is not None:
        groups = _series(session, metric=metric, window=window, filters=filters, by=by)
        labels = _labels(session, by, [key[0] for key in groups])
        for (value,), (counts, per_period) in sorted(groups.items(), key=lambda g: -g[1][0][0]):
            report["groups"].append(
                {"key": labels.get(value, value) if value != "" else None}
                | compute(counts)
                | {"series": _points(window, per_period, compute)}
            )
    return report


def _series(
    session: Session, *, metric: str, window: Window, filters: Filters, by: Dimension | None
) -> dict[tuple[Any, ...], tuple[Counts, dict[date, Counts]]]:
    """Per group: total counts and counts per period."""
    table = _table(filters, by)
    conditions = _conditions(session, table, filters, window.start, window.end)
    if metric != "sentiment":
        conditions.append(table.c.score_type == metric)
    keys: list[Key] = [_period(session, table, window.interval)]
    keys += [COLUMN[by]] if by is not None else []
    grouped: dict[tuple[Any, ...], tuple[Counts, dict[date, Counts]]] = {}
    for (day, *group), counts in _rows(session, table=table, keys=keys, conditions=conditions):
        total, per_period = grouped.setdefault(tuple(group), (_zero(), {}))
        _add(total, counts)
        _add(per_period.setdefault(window.period(day), _zero()), counts)
    return grouped


def _table(filters: Filters, by: Dimension | None) -> Table:
    """The smallest rollup that holds what is asked: per topic, per day only, or the full one."""
    if filters.topic is not None or by is Dimension.topic:
        return TOPIC_ROLLUP
    if by is None and filters == Filters():
        return DAILY_ROLLUP
    return FEEDBACK_ROLLUP


def _points(
    window: Window, per_period: dict[date, Counts], compute: Callable[[Counts], dict[str, Any]]
) -> list[dict[str, Any]]:
    return [{"period": period} | compute(per_period.get(period) or _zero())
            for period in window.periods()]  # fmt: skip


def _labels(session: Session, by: Dimension, values: Iterable[Any]) -> dict[Any, str]:
    """Names for id-valued groups: source names, topic keys."""
    ids = [value for value in values if value != ""]
    if by is Dimension.source:
        query = select(col(Source.id), col(Source.name)).where(col(Source.id).in_(ids))
    elif by is Dimension.topic:
        query = select(col(Topic.id), col(Topic.key)).where(col(Topic.id).in_(ids))
    else:
        return {}
    return {value: label for value, label in session.execute(query)}


# --- topic trends ---------------------------------------------------------------------------


def topic_trends(
    session: Session,
    *,
    window: Window,
    baseline: tuple[date, date] | None = None,
    filters: Filters = Filters(),
    min_count: int = 5,
) -> dict[str, Any]:
    """Volume and sentiment per topic over time, rising/falling topics against a baseline
    (two-proportion z-test on each topic's share of feedback), and each topic's NPS impact."""
    if filters.topic is not None:
        raise InvalidInput("topic trends compare all topics: filter by source, channel, …")
    span = window.end - window.start
    base_start, base_end = baseline or (window.start - span - timedelta(days=1),
                                        window.start - timedelta(days=1))  # fmt: skip
    if base_start > base_end:
        raise InvalidInput("`baseline_from` is after `baseline_to`")
    first, last = min(base_start, window.start), max(base_end, window.end)
    totals = {"current": _zero(), "baseline": _zero()}
    nps_all = _zero()
    table = _table(filters, None)
    conditions = _conditions(session, table, filters, first, last)
    which = _which(table, window, base_start, base_end)
    for (part, score_type), counts in _rows(
        session, table=table, keys=[which, "score_type"], conditions=conditions
    ):
        if part is not None:
            _add(totals[part], counts)
        if part == "current" and score_type == "nps":
            _add(nps_all, counts)
    topics = _topic_counts(session, window, filters, (first, last), (base_start, base_end))
    names = {
        topic_id: key for topic_id, key in session.execute(select(col(Topic.id), col(Topic.key)))
    }
    entries = [
        _topic_entry(names.get(topic_id, str(topic_id)), data, totals, nps_all, window, min_count)
        for topic_id, data in topics.items()
    ]
    entries.sort(key=lambda entry: (-entry["volume"], entry["key"]))
    rising = sorted((e for e in entries if e["trend"] == "rising"), key=lambda e: -e["z"])
    return {
        "from": window.start, "to": window.end, "interval": window.interval.value,
        "baseline_from": base_start, "baseline_to": base_end,
        "volume": totals["current"][0], "baseline_volume": totals["baseline"][0],
        "rising": [entry["key"] for entry in rising], "topics": entries,
    }  # fmt: skip


@dataclass
class _TopicData:
    current: Counts = field(default_factory=_zero)
    baseline: Counts = field(default_factory=_zero)
    nps: Counts = field(default_factory=_zero)
    per_period: dict[date, Counts] = field(default_factory=dict)


def _which(table: Table, window: Window, base_start: date, base_end: date) -> ColumnElement[Any]:
    """'current' for days of the window, 'baseline' for days of the baseline, else NULL."""
    day = table.c.day
    return case(
        (day.between(window.start, window.end), literal("current")),
        (day.between(base_start, base_end), literal("baseline")),
        else_=null(),
    )


def _topic_counts(
    session: Session,
    window: Window,
    filters: Filters,
    span: tuple[date, date],
    baseline: tuple[date, date],
) -> dict[int, _TopicData]:
    conditions = _conditions(session, TOPIC_ROLLUP, filters, *span)
    found: dict[int, _TopicData] = {}
    period_start = _period(session, TOPIC_ROLLUP, window.interval)
    keys: list[Key] = [_which(TOPIC_ROLLUP, window, *baseline), period_start, "topic_id"]
    for (part, period, topic_id), counts in _rows(
        session, table=TOPIC_ROLLUP, keys=keys, conditions=conditions
    ):
        if part is None:
            continue
        data = found.get(topic_id) or found.setdefault(topic_id, _TopicData())
        _add(data.current if part == "current" else data.baseline, counts)
        if part == "current":
            _add(data.per_period.get(period) or data.per_period.setdefault(period, _zero()), counts)
    current = _conditions(session, TOPIC_ROLLUP, filters, window.start, window.end)
    current.append(TOPIC_ROLLUP.c.score_type == "nps")
    for (topic_id,), counts in _rows(
        session, table=TOPIC_ROLLUP, keys=["topic_id"], conditions=current
    ):
        if topic_id in found:
            _add(found[topic_id].nps, counts)
    return found


def _topic_entry(
    key: str,
    data: _TopicData,
    totals: dict[str, Counts],
    nps_all: Counts,
    window: Window,
    min_count: int,
) -> dict[str, Any]:
    volume, baseline_volume = data.current[0], data.baseline[0]
    total, baseline_total = totals["current"][0], totals["baseline"][0]
    z, p = two_proportion_z(volume, total, baseline_volume, baseline_total)
    trend = "steady"
    if z is not None and p is not None and p < ALPHA and max(volume, baseline_volume) >= min_count:
        trend = "rising" if z > 0 else "falling"
    rest = [
        all_count - topic_count for all_count, topic_count in zip(nps_all, data.nps, strict=True)
    ]
    topic_nps, rest_nps = nps(data.nps), nps(rest)
    impact = None
    if topic_nps["nps"] is not None and rest_nps["nps"] is not None:
        impact = round(topic_nps["nps"] - rest_nps["nps"], 2)
    feeling = sentiment(data.current)
    return {
        "key": key, "volume": volume, "share": _share(volume, total),
        "baseline_volume": baseline_volume,
        "baseline_share": _share(baseline_volume, baseline_total),
        "z": z, "p": None if p is None else round(p, 6), "trend": trend,
        "negative": feeling["negative"], "neutral": feeling["neutral"],
        "positive": feeling["positive"], "net_sentiment": feeling["net_sentiment"],
        "nps": topic_nps["nps"], "nps_responses": topic_nps["responses"],
        "nps_rest": rest_nps["nps"], "nps_impact": impact,
        "series": [_topic_point(day, data.per_period.get(day)) for day in window.periods()],
    }  # fmt: skip


def _topic_point(period: date, counts: Counts | None) -> dict[str, Any]:
    feeling = sentiment(counts or _zero())
    return {"period": period, "volume": feeling["volume"], "negative": feeling["negative"],
            "neutral": feeling["neutral"], "positive": feeling["positive"],
            "net_sentiment": feeling["net_sentiment"]}  # fmt: skip


def _share(count: int, total: int) -> float | None:
    return round(100 * count / total, 2) if total else None
