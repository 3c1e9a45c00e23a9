"""Chart specs for web/static/charts.js, and the table of numbers that stands beside each chart.

A spec is plain JSON: ``type`` (``line``, ``stacked`` or ``spark``), ``labels`` (one per
period) and ``series`` ([{label, values, low?, high?, color, dashed?}]); ``null`` values are
empty periods, drawn as gaps. Line specs also carry ``unit``, ``bounds`` (the range the
metric can take: the axis shows all of it) and ``counts``. Colours name CSS custom properties of
hub.css (``accent``, ``neg``, ``neu``, ``pos``, ``rest``, ``series-1`` …), so pages and charts
share one palette.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from hub.metrics.queries import Window

MINUS = "\u2212"
SENTIMENT_COLOURS = {"negative": "neg", "neutral": "neu", "positive": "pos"}
PALETTE = [f"series-{n}" for n in range(1, 7)]


@dataclass(frozen=True)
class NumbersTable:
    """The numbers behind a chart, as text: the chart's accessible alternative."""

    caption: str
    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Chart:
    """One chart: its name on the page, its spec, a one-line summary and its numbers."""

    name: str
    spec: dict[str, Any]
    summary: str
    table: NumbersTable


def number(value: float | None, *, digits: int = 1, unit: str = "") -> str:
    """A value as people read it: at most ``digits`` decimals, a real minus, "—" for none."""
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    if digits:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", "0"):
        text = "0"
    return text.replace("-", MINUS) + unit


def span(low: float | None, high: float | None, *, digits: int = 1, unit: str = "") -> str | None:
    """A 95% interval as "low to high", or None when there is none."""
    if low is None or high is None:
        return None
    return f"{number(low, digits=digits, unit=unit)} to {number(high, digits=digits, unit=unit)}"


def period_label(period: date, interval: str) -> str:
    """A period's short label: "5 Oct" for days and weeks (the Monday), "Oct 2026" for months."""
    if interval == "month":
        return period.strftime("%b %Y")
    return f"{period.day} {period.strftime('%b')}"


def series(
    label: str,
    values: Sequence[float | int | None],
    *,
    color: str,
    low: Sequence[float | None] | None = None,
    high: Sequence[float | None] | None = None,
    dashed: bool = False,
) -> dict[str, Any]:
    """One line or bar series; ``low``/``high`` draw its 95% interval as a band."""
    found: dict[str, Any] = {"label": label, "values": list(values), "color": color}
    if low is not None and high is not None:
        found |= {"low": list(low), "high": list(high)}
    if dashed:
        found["dashed"] = True
    return found


def line_spec(
    labels: list[str],
    lines: list[dict[str, Any]],
    *,
    unit: str = "",
    bounds: tuple[float, float | None] = (0, None),
    counts: bool = False,
) -> dict[str, Any]:
    """Lines over time (with interval bands where the series have them). The axis spans
    ``bounds`` (the metric's whole range: an honest scale); ``None`` leaves the top free.
    ``counts`` ticks whole numbers and names even a single line in the legend."""
    return {"type": "line", "labels": labels, "series": lines, "unit": unit,
            "bounds": list(bounds), "counts": counts}  # fmt: skip


def stacked_spec(labels: list[str], bars: list[dict[str, Any]]) -> dict[str, Any]:
    """Stacked bars over time (counts that add up to a total)."""
    return {"type": "stacked", "labels": labels, "series": bars}


def spark_spec(labels: list[str], values: list[int], *, color: str = "accent") -> dict[str, Any]:
    """A small chart of one count over time, without axes (the table next to it has numbers)."""
    return {"type": "spark", "labels": labels, "series": [series("", values, color=color)]}


def period_labels(window: Window) -> list[str]:
    """One label per period of the window."""
    return [period_label(period, window.interval.value) for period in window.periods()]


def sentiment_chart(points: list[dict[str, Any]], window: Window, *, name: str) -> Chart:
    """Items per period as bars stacked by sentiment (items without one yet on top)."""
    bars = [
        series(label.capitalize(), [point[label] for point in points], color=colour)
        for label, colour in SENTIMENT_COLOURS.items()
    ]
    unscored = [point["volume"] - point["responses"] for point in points]
    if any(unscored):
        bars.append(series("No sentiment yet", unscored, color="rest"))
    rows = [
        [period_label(point["period"], window.interval.value), str(point["volume"]),
         str(point["negative"]), str(point["neutral"]), str(point["positive"]),
         number(point["net_sentiment"])]
        for point in points
    ]  # fmt: skip
    return Chart(
        name=name,
        spec=stacked_spec(period_labels(window), bars),
        summary=f"Items per {window.interval.value} by sentiment: "
        + ", ".join(f"{row[0]} {row[1]}" for row in rows),
        table=NumbersTable(
            f"Items and sentiment per {window.interval.value}",
            ["Period", "Items", "Negative", "Neutral", "Positive", "Net sentiment"],
            rows,
        ),
    )
