"""The process's Prometheus metrics, and the ASGI middleware that counts HTTP requests.

Counters and histograms live in the process that does the work: the API counts requests and
what it ingests; a worker times its batches and serves its own metrics on
``HUB_WORKER_METRICS_PORT``. With ``PROMETHEUS_MULTIPROC_DIR`` set, every process of one host
(``serve --workers N`` and its worker) writes there and ``/metrics`` adds them all up.
"""

import os
import time

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import Message, Receive, Scope, Send

from hub.http.middleware import HttpMiddleware

disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series beside every counter and histogram
HTTP_REQUESTS = Counter(
    "hub_http_requests",
    "HTTP requests by method, route template and status",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "hub_http_request_duration_seconds",
    "HTTP request latency by method and route template",
    ["method", "route"],
)
ITEMS_INGESTED = Counter(
    "hub_items_ingested",
    "Feedback items stored as new, by source kind (api, widget, import, app_store, …)",
    ["source_kind"],
)
WORKER_BATCH_SECONDS = Histogram(
    "hub_worker_batch_duration_seconds",
    "Time a worker takes to claim, enrich and store one batch",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
UNMATCHED = "unmatched"  # a 404's path is not a label: ids and probes would explode cardinality


class RequestMetrics(HttpMiddleware):
    """Counts and times every HTTP request by its route template (``/cases/{case_id}``)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500  # what the client gets if the app raises before answering
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = route_template(scope)
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_SECONDS.labels(scope["method"], route).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The matched route's path template, a mount's prefix, or ``unmatched``."""
    route = scope.get("route")
    if route is not None and hasattr(route, "path"):
        return str(route.path)
    root_path = scope.get("root_path", "")
    if root_path and root_path != scope.get("app_root_path", ""):
        return f"{root_path}/*"  # a mount, e.g. /static/*
    return UNMATCHED


def observe_batch(seconds: float) -> None:
    """Record one worker batch's duration."""
    WORKER_BATCH_SECONDS.observe(seconds)


def count_ingested(source_kind: str, created: int) -> None:
    """Count items stored as new for ``source_kind``."""
    if created:
        ITEMS_INGESTED.labels(source_kind).inc(created)


def process_metrics() -> bytes:
    """This process's metrics in the text format, or every process's in multiprocess mode."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def serve_worker_metrics(port: int | None) -> None:
    """Expose this worker's metrics on ``port`` (``HUB_WORKER_METRICS_PORT``), if set."""
    if port is not None:
        start_http_server(port)
