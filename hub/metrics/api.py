"""JSON (and CSV) API for metrics over time and topic trends; read scope."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from hub.errors import InvalidInput
from hub.http.csv_export import Format, csv_response, wants_csv
from hub.http.deps import ReadKey, SessionDep
from hub.http.params import QueryDate
from hub.metrics.queries import Dimension, Filters, Interval, Window, metric_report, topic_trends

router = APIRouter(prefix="/api/v1", tags=["metrics"])


class MetricReport(BaseModel):
    """A metric over a window: its summary fields (e.g. ``nps``, ``promoters``, ``passives``,
    ``detractors``, ``responses``, ``ci_low``, ``ci_high``, ``thin``), a ``series`` of the same
    fields per period, and ``groups`` (with ``by``), each with its own series."""

    model_config = ConfigDict(extra="allow")

    metric: str
    interval: str
    responses: int
    thin: bool
    series: list[dict[str, Any]]
    groups: list[dict[str, Any]]


class TopicTrends(BaseModel):
    """Per topic: volume, share, sentiment, NPS impact, trend against the baseline, series."""

    model_config = ConfigDict(extra="allow")

    interval: str
    volume: int
    baseline_volume: int
    rising: list[str]
    topics: list[dict[str, Any]]


def window(
    start: Annotated[QueryDate | None, Query(alias="from", description="First day (UTC)")] = None,
    end: Annotated[
        QueryDate | None, Query(alias="to", description="Last day (UTC), inclusive")
    ] = None,
    interval: Interval = Interval.week,
) -> Window:
    """The reporting window from the query string."""
    return Window.of(start, end, interval)


def filters(
    source: Annotated[list[str], Query(description="Source name; repeatable")] = [],  # noqa: B006
    channel: Annotated[list[str], Query(description="Channel; repeatable")] = [],  # noqa: B006
    segment: Annotated[list[str], Query(description="Customer segment ('none': no segment)")] = [],  # noqa: B006
    language: Annotated[list[str], Query(description="Language code ('none': unknown)")] = [],  # noqa: B006
    topic: Annotated[str | None, Query(description="Topic key")] = None,
) -> Filters:
    """Which feedback counts."""
    return Filters(tuple(source), tuple(channel), tuple(segment), tuple(language), topic)


WindowDep = Annotated[Window, Depends(window)]
FiltersDep = Annotated[Filters, Depends(filters)]
FormatQuery = Annotated[Format | None, Query(description="json, or csv (or Accept: text/csv)")]
ByQuery = Annotated[Dimension | None, Query(description="One group per source, channel, …")]


def _metric_csv(metric: str, report: dict[str, Any]) -> Response:
    if not report["groups"]:
        return csv_response(metric, report["series"])
    rows = [
        {"group": group["key"]} | point for group in report["groups"] for point in group["series"]
    ]
    return csv_response(metric, rows)


_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}
# metric -> (summary, what it is): one route each, all with the same parameters
METRIC_ROUTES = {
    "nps": ("NPS over time",
            "NPS = % promoters (9-10) - % detractors (0-6), with counts and a 95% interval."),
    "csat": ("CSAT over time", "CSAT = % of 4-5 answers on 1-5, with a Wilson 95% interval."),
    "ces": ("CES over time", "CES = mean effort on 1-7, and % of 5-7, each with a 95% interval."),
    "thumbs": ("Thumbs-up ratio over time",
               "% thumbs up among thumbs up and down, with a Wilson 95% interval."),
    "stars": ("Star rating over time",
              "Mean stars on 1-5 with a 95% interval, and the distribution."),
    "sentiment": ("Volume and sentiment over time",
                  "Feedback volume, sentiment counts and net sentiment (% positive - % negative)."),
}  # fmt: skip


def _metric_route(metric: str) -> Callable[..., Any]:
    """The route of one metric: its report as JSON, or CSV when asked for."""

    def route(
        request: Request,
        session: SessionDep,
        _key: ReadKey,
        window: WindowDep,
        filters: FiltersDep,
        by: ByQuery = None,
        format: FormatQuery = None,
    ) -> Any:
        report = metric_report(session, metric=metric, window=window, filters=filters, by=by)
        if wants_csv(request, format):
            return _metric_csv(metric, report)
        return report

    return route


for _name, (_summary, _description) in METRIC_ROUTES.items():
    router.add_api_route(
        f"/metrics/{_name}",
        _metric_route(_name),
        methods=["GET"],
        summary=_summary,
        description=_description,
        response_model=MetricReport,
        responses=_RESPONSES,
        name=f"{_name}_route",
    )


@router.get(
    "/topics/trends", summary="Topic trends", response_model=TopicTrends, responses=_RESPONSES
)
def topic_trends_route(
    request: Request,
    session: SessionDep,
    _key: ReadKey,
    window: WindowDep,
    filters: FiltersDep,
    baseline_from: Annotated[
        QueryDate | None, Query(description="Default: the span before")
    ] = None,
    baseline_to: Annotated[QueryDate | None, Query()] = None,
    min_count: Annotated[int, Query(ge=1, description="Fewest items to flag a trend")] = 5,
    format: FormatQuery = None,
) -> Any:
    """Volume and sentiment per topic over time; rising topics by a two-proportion z-test of
    their share against the baseline; NPS of feedback about each topic against the rest."""
    if (baseline_from is None) != (baseline_to is None):
        raise InvalidInput("give both `baseline_from` and `baseline_to`, or neither")
    baseline = (baseline_from, baseline_to) if baseline_from and baseline_to else None
    trends = topic_trends(
        session, window=window, baseline=baseline, filters=filters, min_count=min_count
    )
    if wants_csv(request, format):
        rows = [
            {"topic": topic["key"]} | point
            for topic in trends["topics"]
            for point in topic["series"]
        ]
        return csv_response("topic-trends", rows)
    return trends
