"""``GET /metrics`` (Prometheus) and ``GET /readyz`` (readiness)."""

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from hub.errors import Unauthorized
from hub.http.deps import SettingsDep
from hub.observability import readiness
from hub.observability.metrics import process_metrics
from hub.observability.queues import database_metrics

router = APIRouter(tags=["ops"])


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request, settings: SettingsDep) -> Response:
    """Request, ingest and worker metrics, and queue depths read from the database."""
    token = settings.metrics_token.get_secret_value()
    if token and not _bearer_matches(request, token):
        raise Unauthorized("metrics need `Authorization: Bearer <HUB_METRICS_TOKEN>`")
    body = process_metrics() + database_metrics(
        request.app.state.engine, beat_seconds=settings.worker_heartbeat_seconds
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get("/readyz", summary="Readiness check", response_model=None)
def readyz(request: Request) -> JSONResponse:
    """200 when the database answers and its migrations are current, else 503 and why."""
    state = readiness.check(request.app.state.engine)
    body = {
        "status": "ready" if state.ready else "unavailable",
        "reason": state.reason,
        "revision": state.revision,
        "head": state.head,
    }
    return JSONResponse(body, status_code=200 if state.ready else 503)


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())
