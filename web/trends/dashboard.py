"""GET /dashboard: NPS, CSAT, CES, thumbs, stars and volume/sentiment over time, and a breakdown.

Every number comes from :func:`hub.metrics.queries.metric_report` (the rollup tables), so the
page costs the same at a hundred items as at millions.
"""

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from hub.errors import InvalidInput
from hub.http.deps import SessionDep
from hub.metrics.queries import Dimension, Window, metric_report
from hub.scores import SCALES
from web.trends.charts import (
    Chart,
    NumbersTable,
    line_spec,
    number,
    period_label,
    period_labels,
    sentiment_chart,
    series,
    span,
)
from web.trends.filters import (
    filter_choices,
    link,
    page_query,
    parse_by,
    parse_window,
    rollup_filters,
    window_params,
)
from web.trends.pages import pages_router, render

router = pages_router()
KEYS = ("from", "to", "interval", "source", "channel", "segment", "language", "by")


@dataclass(frozen=True)
class Metric:
    """A score metric's card: which report field is its value, and how to show it."""

    metric: str
    title: str
    field: str
    definition: str
    bounds: tuple[float, float]
    unit: str = ""
    digits: int = 1

    def show(self, value: float | None) -> str:
        """The value as the card shows it."""
        return number(value, digits=self.digits, unit=self.unit)


NPS, CSAT, CES, STARS = (SCALES[kind] for kind in ("nps", "csat", "ces", "stars"))
METRICS = (
    Metric("nps", "NPS", "nps",
           f"% promoters ({NPS.good_range}) - % detractors ({NPS.bad_range})", (-100, 100)),
    Metric("csat", "CSAT", "csat", f"% of {CSAT.good_range} answers on {CSAT.low}-{CSAT.high}",
           (0, 100), unit="%"),
    Metric("ces", "CES", "ces", f"mean effort on {CES.low}-{CES.high} (higher is easier)",
           CES.bounds, digits=2),
    Metric("thumbs", "Thumbs up", "ratio", "% up among thumbs up and down", (0, 100), unit="%"),
    Metric("stars", "Stars", "stars", f"mean rating on {STARS.low}-{STARS.high}", STARS.bounds,
           digits=2),
)  # fmt: skip


@dataclass(frozen=True)
class Card:
    """One card of the dashboard: headline, interval, responses, chart and CSV link."""

    metric: str
    title: str
    definition: str
    headline: str
    interval: str | None
    responses: int
    thin: bool
    chart: Chart | None
    csv: str
    extra: str | None = None


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep) -> HTMLResponse:
    """The metrics over time, one card each, and a breakdown by source, channel, …"""
    query = page_query(request.query_params, KEYS)
    context: dict[str, Any] = {"query": query, **filter_choices(request, session)}
    try:
        window, by = parse_window(query), parse_by(query)
        filters = rollup_filters(query)
        reports = {
            name: metric_report(session, metric=name, window=window, filters=filters, by=by)
            for name in [*(metric.metric for metric in METRICS), "sentiment"]
        }
    except InvalidInput as exc:
        return render(request, "dashboard.html", context | {"error": exc.message}, status_code=422)
    api = {k: v for k, v in query.items() if k != "by"} | window_params(window)
    cards = [_metric_card(metric, reports[metric.metric], window, api) for metric in METRICS]
    cards.append(_volume_card(reports["sentiment"], window, api))
    context |= {
        "window": window,
        "by": by,
        "cards": cards,
        "charts": [card.chart for card in cards if card.chart is not None],
        "breakdown": _breakdown(reports, by),
        "breakdown_csv": {
            metric: link(f"/api/v1/metrics/{metric}", api | {"by": by.value, "format": "csv"})
            for metric in reports
        },
    }
    return render(request, "dashboard.html", context)


def _metric_card(
    metric: Metric, report: dict[str, Any], window: Window, api: dict[str, str]
) -> Card:
    points = report["series"]
    chart = None
    if report["responses"]:
        line = series(
            metric.title,
            [point[metric.field] for point in points],
            low=[point["ci_low"] for point in points],
            high=[point["ci_high"] for point in points],
            color="accent",
        )
        rows = [
            [period_label(point["period"], window.interval.value), metric.show(point[metric.field]),
             span(point["ci_low"], point["ci_high"], digits=metric.digits, unit=metric.unit) or "—",
             str(point["responses"])]
            for point in points
        ]  # fmt: skip
        chart = Chart(
            name=metric.metric,
            spec=line_spec(period_labels(window), [line], unit=metric.unit, bounds=metric.bounds),
            summary=f"{metric.title} per {window.interval.value}: "
            + ", ".join(f"{row[0]} {row[1]}" for row in rows),
            table=NumbersTable(
                f"{metric.title} per {window.interval.value}",
                ["Period", metric.title, "95% interval", "Responses"],
                rows,
            ),
        )
    return Card(
        metric=metric.metric,
        title=metric.title,
        definition=metric.definition,
        headline=metric.show(report[metric.field]),
        interval=_ci(
            span(report["ci_low"], report["ci_high"], digits=metric.digits, unit=metric.unit)
        ),
        responses=report["responses"],
        thin=report["thin"],
        chart=chart,
        csv=link(f"/api/v1/metrics/{metric.metric}", api | {"format": "csv"}),
    )


def _ci(text: str | None) -> str | None:
    return text and f"95% interval {text}"


def _volume_card(report: dict[str, Any], window: Window, api: dict[str, str]) -> Card:
    """Volume (every item) with its sentiment: stacked bars, items not scored yet on top."""
    chart = None
    if report["volume"]:
        chart = sentiment_chart(report["series"], window, name="sentiment")
    negative = span(report["ci_low"], report["ci_high"], unit="%")
    return Card(
        metric="sentiment",
        title="Volume & sentiment",
        definition="every item; net sentiment = % positive - % negative",
        headline=f"{report['volume']:,}",
        interval=negative
        and f"{number(report['negative_pct'], unit='%')} negative (95% interval {negative})",
        responses=report["responses"],
        thin=report["thin"],
        chart=chart,
        csv=link("/api/v1/metrics/sentiment", api | {"format": "csv"}),
        extra=f"net sentiment {number(report['net_sentiment'])}",
    )


@dataclass(frozen=True)
class Cell:
    """A metric of one group: value, interval and responses."""

    value: str
    interval: str | None
    responses: int
    thin: bool


def _breakdown(reports: dict[str, dict[str, Any]], by: Dimension) -> list[dict[str, Any]]:
    """One row per group (most items first): its volume and each metric with its interval."""
    volumes = {group["key"]: group["volume"] for group in reports["sentiment"]["groups"]}
    rows = []
    for key, volume in volumes.items():
        cells = {}
        for metric in METRICS:
            group = next((g for g in reports[metric.metric]["groups"] if g["key"] == key), None)
            if group is None or not group["responses"]:
                continue
            cells[metric.metric] = Cell(
                value=metric.show(group[metric.field]),
                interval=span(
                    group["ci_low"], group["ci_high"], digits=metric.digits, unit=metric.unit
                ),
                responses=group["responses"],
                thin=group["thin"],
            )
        label = key if key is not None else f"(no {by.value})"
        rows.append({"key": label, "volume": volume, "cells": cells})
    return rows
