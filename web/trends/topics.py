"""GET /topics: every topic's volume, share, trend, sentiment and NPS impact over the window.

The numbers come from :func:`hub.metrics.queries.topic_trends` (rollup tables only); a topic is
marked rising or falling only when the back end's z-test says so (p < 0.05).
"""

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from hub.errors import InvalidInput
from hub.http.deps import SessionDep
from hub.metrics.queries import Window, topic_trends
from hub.topics.service import list_topics
from web.trends.charts import (
    PALETTE,
    Chart,
    NumbersTable,
    line_spec,
    number,
    period_label,
    series,
    spark_spec,
)
from web.trends.filters import (
    filter_choices,
    link,
    page_query,
    parse_window,
    rollup_filters,
    window_params,
)
from web.trends.pages import pages_router, render

router = pages_router()
KEYS = ("from", "to", "interval", "source", "channel", "segment", "language")
TOP = len(PALETTE)  # topics drawn in the volume chart


@router.get("/topics", response_class=HTMLResponse)
def topics_page(request: Request, session: SessionDep) -> HTMLResponse:
    """Topic trends: a row per topic with its numbers and a small chart; the top topics' volume."""
    query = page_query(request.query_params, KEYS)
    context: dict[str, Any] = {"query": query, **filter_choices(request, session)}
    try:
        window = parse_window(query)
        trends = topic_trends(session, window=window, filters=rollup_filters(query))
    except InvalidInput as exc:
        return render(request, "topics.html", context | {"error": exc.message}, status_code=422)
    names = {topic.key: topic.name for topic in list_topics(session)}
    labels = [period_label(period, window.interval.value) for period in window.periods()]
    rows = [_row(n, topic, names, labels, query) for n, topic in enumerate(trends["topics"])]
    charts = [row["spark"] for row in rows]
    top = [row for row in rows if row["volume"]][:TOP]
    if top:
        charts.insert(0, _top_chart(top, labels, window))
    context |= {
        "window": window,
        "trends": trends,
        "rows": rows,
        "charts": charts,
        "top_chart": charts[0] if top else None,
        "csv": link("/api/v1/topics/trends", query | window_params(window) | {"format": "csv"}),
    }
    return render(request, "topics.html", context)


def _row(
    index: int,
    topic: dict[str, Any],
    names: dict[str, str],
    labels: list[str],
    query: dict[str, str],
) -> dict[str, Any]:
    """One topic's row: numbers as text, its trend, a sparkline and its detail page's link."""
    volumes = [point["volume"] for point in topic["series"]]
    name = names.get(topic["key"], topic["key"])
    change = None
    if topic["share"] is not None and topic["baseline_share"] is not None:
        change = topic["share"] - topic["baseline_share"]
    detail = {
        k: v for k, v in query.items() if k in ("from", "to", "interval", "source", "channel")
    }
    return {
        "key": topic["key"],
        "name": name,
        "href": link(f"/topics/{topic['key']}", detail),
        "volume": topic["volume"],
        "volumes": volumes,
        "share": number(topic["share"], unit="%"),
        "baseline_share": number(topic["baseline_share"], unit="%"),
        "change": None if change is None else ("+" if change > 0 else "") + number(change),
        "trend": topic["trend"],
        "p": topic["p"],
        "net_sentiment": number(topic["net_sentiment"]),
        "net_value": topic["net_sentiment"],
        "nps": number(topic["nps"]),
        "nps_responses": topic["nps_responses"],
        "nps_rest": number(topic["nps_rest"]),
        "impact": topic["nps_impact"],
        "impact_text": None
        if topic["nps_impact"] is None
        else ("+" if topic["nps_impact"] > 0 else "") + number(topic["nps_impact"]),
        "spark": Chart(
            name=f"spark-{index}",
            spec=spark_spec(labels, volumes),
            summary=f"{name}, items per period: " + ", ".join(str(v) for v in volumes),
            table=NumbersTable(
                f"{name} per period",
                ["Period", "Items"],
                [[label, str(v)] for label, v in zip(labels, volumes, strict=True)],
            ),
        ),
    }


def _top_chart(top: list[dict[str, Any]], labels: list[str], window: Window) -> Chart:
    """The biggest topics' volume per period, one line each."""
    lines = [series(row["name"], row["volumes"], color=PALETTE[n]) for n, row in enumerate(top)]
    rows = [[label, *(str(line["values"][i]) for line in lines)] for i, label in enumerate(labels)]
    return Chart(
        name="top-topics",
        spec=line_spec(labels, lines, counts=True),
        summary=f"Items per {window.interval.value} of the {len(top)} biggest topics: "
        + "; ".join(f"{row['name']} {row['volume']}" for row in top),
        table=NumbersTable(
            f"Items per {window.interval.value}",
            ["Period", *(row["name"] for row in top)],
            rows,
        ),
    )
