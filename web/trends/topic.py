"""GET /topics/{key}: one topic's volume and sentiment, its NPS against the rest, and verbatims.

The charts read the rollup tables (:func:`hub.metrics.queries.metric_report`); the verbatims
are the feedback items about the topic (:func:`hub.feedback.queries.list_feedback`), newest
first, a page at a time. Language and sentiment narrow the verbatims only: topic rollups are
kept per source and channel.
"""

from dataclasses import replace
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from hub.cases.queries import cases_of_items
from hub.errors import InvalidInput
from hub.feedback.models import Channel, FeedbackPage
from hub.feedback.queries import FeedbackFilters, list_feedback
from hub.http.deps import SessionDep
from hub.metrics.models import SENTIMENTS
from hub.metrics.queries import Filters, Window, metric_report, topic_trends
from hub.topics.service import list_topics
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
    day_bounds,
    filter_choices,
    link,
    page_query,
    parse_window,
    window_params,
)
from web.trends.pages import pages_router, render

router = pages_router()
KEYS = ("from", "to", "interval", "source", "channel", "language", "sentiment", "cursor")
PAGE_SIZE = 20
VERBATIM_KEYS = ("source", "channel", "language", "sentiment")


@router.get("/topics/{key}", response_class=HTMLResponse)
def topic_page(request: Request, session: SessionDep, key: str) -> HTMLResponse:
    """One topic over time and what customers said about it."""
    topic = next((t for t in list_topics(session) if t.key == key), None)
    query = page_query(request.query_params, KEYS)
    context: dict[str, Any] = {
        "topic": topic,
        "key": key,
        "query": query,
        "sentiments": [(s, s) for s in SENTIMENTS],
        **filter_choices(request, session),
    }
    if topic is None:
        return render(request, "topic.html", context, status_code=404)
    try:
        window = parse_window(query)
        filters = Filters(sources=_one(query, "source"), channels=_one(query, "channel"))
        charts = _charts(session, key, window, filters)
        verbatims = _verbatims(session, key, window, query)
        entry = _trend_entry(session, key, window, filters)
    except InvalidInput as exc:
        return render(request, "topic.html", context | {"error": exc.message}, status_code=422)
    listing = {k: v for k, v in query.items() if k != "cursor"} | window_params(window)
    context |= {
        "window": window,
        "entry": entry,
        "charts": list(charts.values()),
        "sentiment_chart": charts.get("sentiment"),
        "nps_chart": charts.get("nps"),
        "page": verbatims,
        "cases": cases_of_items(session, [item.id for item in verbatims.items]),
        "older": _older(key, listing, verbatims.next_cursor),
        "newest": link(f"/topics/{key}", listing) if "cursor" in query else None,
        "csv": link("/api/v1/feedback", _feedback_params(key, window, query) | {"format": "csv"}),
        "trends_href": link("/topics", {k: v for k, v in listing.items() if k in _TREND_KEYS}),
    }
    return render(request, "topic.html", context)


_TREND_KEYS = ("from", "to", "interval", "source", "channel")


def _older(key: str, listing: dict[str, str], cursor: str | None) -> str | None:
    """The link to the next (older) page of verbatims, if there is one."""
    return link(f"/topics/{key}", listing | {"cursor": cursor}) if cursor else None


def _one(query: dict[str, str], name: str) -> tuple[str, ...]:
    return (query[name],) if name in query else ()


def _trend_entry(
    session: Session, key: str, window: Window, filters: Filters
) -> dict[str, Any] | None:
    """The topic's row of the topic trends (volume, share, trend, NPS against the rest), as
    the page shows it."""
    trends = topic_trends(session, window=window, filters=filters)
    entry = next((entry for entry in trends["topics"] if entry["key"] == key), None)
    if entry is None:
        return None
    return {
        "volume": f"{entry['volume']:,}",
        "share": number(entry["share"], unit="%"),
        "baseline_share": number(entry["baseline_share"], unit="%"),
        "trend": entry["trend"],
        "net_sentiment": number(entry["net_sentiment"]),
        "nps": number(entry["nps"]),
        "nps_rest": number(entry["nps_rest"]),
        "nps_responses": entry["nps_responses"],
    }


def _charts(session: Session, key: str, window: Window, filters: Filters) -> dict[str, Chart]:
    """Volume and sentiment per period, and the topic's NPS against the rest's (when there
    is data to draw): {"sentiment": …, "nps": …}."""
    about = replace(filters, topic=key)
    feeling = metric_report(session, metric="sentiment", window=window, filters=about)
    charts = {}
    if feeling["volume"]:
        charts["sentiment"] = sentiment_chart(feeling["series"], window, name="topic-sentiment")
    topic_nps = metric_report(session, metric="nps", window=window, filters=about)
    if topic_nps["responses"]:
        every_nps = metric_report(session, metric="nps", window=window, filters=filters)
        charts["nps"] = _nps_chart(topic_nps, every_nps, window)
    return charts


def rest_nps(every: dict[str, Any], topic: dict[str, Any]) -> tuple[float | None, int]:
    """NPS (and answers) of the feedback not about the topic: every answer minus the topic's."""
    promoters = every["promoters"] - topic["promoters"]
    detractors = every["detractors"] - topic["detractors"]
    answers = every["responses"] - topic["responses"]
    if not answers:
        return None, 0
    return round(100 * (promoters - detractors) / answers, 2), answers


def _nps_chart(topic: dict[str, Any], every: dict[str, Any], window: Window) -> Chart:
    points = topic["series"]
    rest = [rest_nps(e, t) for e, t in zip(every["series"], points, strict=True)]
    lines = [
        series("This topic", [p["nps"] for p in points], color="accent",
               low=[p["ci_low"] for p in points], high=[p["ci_high"] for p in points]),
        series("The rest", [value for value, _ in rest], color="rest", dashed=True),
    ]  # fmt: skip
    rows = [
        [period_label(p["period"], window.interval.value), number(p["nps"]),
         span(p["ci_low"], p["ci_high"]) or "—", str(p["responses"]), number(value), str(n)]
        for p, (value, n) in zip(points, rest, strict=True)
    ]  # fmt: skip
    return Chart(
        name="topic-nps",
        spec=line_spec(period_labels(window), lines, bounds=(-100, 100)),
        summary=f"NPS per {window.interval.value}, this topic against the rest: "
        + ", ".join(f"{row[0]} {row[1]} vs {row[4]}" for row in rows),
        table=NumbersTable(
            f"NPS per {window.interval.value}",
            ["Period", "Topic NPS", "95% interval", "Answers", "Rest NPS", "Answers"],
            rows,
        ),
    )


def _verbatim_filters(key: str, window: Window, query: dict[str, str]) -> FeedbackFilters:
    """The verbatims' filters; an unknown channel or sentiment is a readable error."""
    channel = query.get("channel")
    if channel is not None and channel not in Channel.__members__:
        raise InvalidInput(f"no channel {channel!r}: survey, rating, review, social or ticket")
    sentiment = query.get("sentiment")
    if sentiment is not None and sentiment not in SENTIMENTS:
        raise InvalidInput(f"sentiment is negative, neutral or positive (not {sentiment!r})")
    since, until = day_bounds(window)
    return FeedbackFilters(
        topic=key,
        source=query.get("source"),
        channel=Channel(channel) if channel else None,
        language=query.get("language"),
        sentiment=sentiment,
        since=since,
        until=until,
    )


def _verbatims(session: Session, key: str, window: Window, query: dict[str, str]) -> FeedbackPage:
    filters = _verbatim_filters(key, window, query)
    return list_feedback(session, filters=filters, cursor=query.get("cursor"), limit=PAGE_SIZE)


def _feedback_params(key: str, window: Window, query: dict[str, str]) -> dict[str, str]:
    """The verbatims' filters as ``GET /api/v1/feedback`` parameters."""
    since, until = day_bounds(window)
    params = {"topic": key}
    params |= {name: query[name] for name in VERBATIM_KEYS if name in query}
    return params | {"since": since.isoformat(), "until": until.isoformat()}
