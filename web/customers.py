"""Customer pages: who is at risk, and one customer's whole history (every signed-in role reads)."""

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from hub.customers.queries import CustomerDetail, customer_detail
from hub.customers.risk import WEIGHTS, RiskFilters, at_risk, segments
from hub.errors import InvalidInput, NotFound
from hub.feedback.models import ScoreType
from hub.http.deps import SessionDep
from hub.http.params import PathId
from hub.scores import SCALES
from hub.store.types import utcnow
from web.auth import page_user
from web.cases.timeline import due_text, label, when
from web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_user())])
DAY_CHOICES = (7, 30, 90, 180, 365)
DEFAULT_DAYS = 30
FORMATTERS = {"when": when, "label": label, "due": due_text}


@router.get("/customers/at-risk", response_class=HTMLResponse)
def at_risk_page(
    request: Request,
    session: SessionDep,
    days: str = str(DEFAULT_DAYS),
    segment: str = "",
    cursor: str | None = None,
) -> HTMLResponse:
    """Customers ranked by recent negative signals, with the reasons in words."""
    error, window = None, _days(days)
    if window is None:
        error, window = "Days must be a whole number from 1 to 365.", DEFAULT_DAYS
    filters = RiskFilters(days=window, segment=segment or None)
    try:
        page = at_risk(session, filters=filters, cursor=cursor, limit=50)
    except InvalidInput as exc:  # a cursor from elsewhere: start again
        error, page = exc.message, at_risk(session, filters=filters, limit=50)
    query = {"days": window, **({"segment": segment} if segment else {})}
    context = {
        "page": page,
        "error": error,
        "days": window,
        "segment": segment,
        "day_choices": sorted({*DAY_CHOICES, window}),
        "segments": [(name, name) for name in segments(session)],
        "weights": WEIGHTS,
        "csv_url": "/api/v1/customers/at-risk?" + urlencode({**query, "format": "csv"}),
        "next_url": f"?{urlencode({**query, 'cursor': page.next_cursor})}"
        if page.next_cursor
        else None,
        **FORMATTERS,
    }
    return templates.TemplateResponse(request, "customers_at_risk.html", context)


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(
    request: Request, session: SessionDep, customer_id: PathId, cursor: str | None = None
) -> HTMLResponse:
    """One customer: who they are, why they are at risk, their scores, feedback and cases."""
    try:
        detail, error = _detail(session, customer_id, cursor)
    except NotFound as exc:
        missing = {"detail": None, "customer_id": customer_id, "error": exc.message}
        return templates.TemplateResponse(request, "customer.html", missing, status_code=404)
    context = {
        "detail": detail,
        "customer_id": customer_id,
        "error": error,
        "now": utcnow(),
        "case_of": {case.feedback_id: case for case in detail.cases},
        "chart": chart_points(detail),
        "attributes": sorted(detail.customer.attributes.items()),
        "next_url": f"?{urlencode({'cursor': detail.feedback.next_cursor})}"
        if detail.feedback.next_cursor
        else None,
        **FORMATTERS,
    }
    return templates.TemplateResponse(request, "customer.html", context)


def _detail(
    session: Session, customer_id: int, cursor: str | None
) -> tuple[CustomerDetail, str | None]:
    """The customer with a page of feedback; a cursor from elsewhere starts at the newest."""
    try:
        return customer_detail(session, customer_id=customer_id, cursor=cursor, limit=50), None
    except InvalidInput as exc:
        return customer_detail(session, customer_id=customer_id, cursor=None, limit=50), exc.message


def chart_points(detail: CustomerDetail) -> list[dict[str, Any]]:
    """The scores for the chart: each as a share of its scale's best (0-100), and as given."""
    points = []
    for point in detail.scores:
        low, high = SCALES[ScoreType(point.score_type)].bounds
        points.append({
            "t": int(point.at.timestamp() * 1000),
            "type": point.score_type,
            "score": point.score,
            "pct": round(100 * (point.score - low) / (high - low)),
        })  # fmt: skip
    return points


def _days(value: str) -> int | None:
    """The window from the query string, or None when it is not 1-365."""
    if not value.strip().isdigit():
        return None
    days = int(value)
    return days if 1 <= days <= 365 else None
