"""JSON (and CSV) API for customers: who is at risk, and one customer's history; read scope."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from hub.customers.queries import CustomerDetail, customer_detail
from hub.customers.risk import AtRiskPage, RiskFilters, at_risk
from hub.http.csv_export import Format, csv_response, wants_csv
from hub.http.deps import ReadKey, SessionDep
from hub.http.params import PathId

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])

Days = Annotated[int, Query(ge=1, le=365, description="The window: the last N days")]
Limit = Annotated[int, Query(ge=1, le=200)]
CSV_MAX_ROWS = 10_000


@router.get(
    "/at-risk",
    summary="Customers at risk",
    response_model=AtRiskPage,
    responses={200: {"content": {"text/csv": {}}}},
)
def at_risk_route(
    request: Request,
    session: SessionDep,
    _key: ReadKey,
    days: Days = 30,
    segment: Annotated[str | None, Query(max_length=100)] = None,
    min_score: Annotated[int, Query(ge=1, le=10_000)] = 1,
    cursor: str | None = None,
    limit: Limit = 50,
    format: Annotated[Format | None, Query(description="json, or csv")] = None,
) -> Any:
    """Customers ranked by recent negative signals (weights in the README), with reasons;
    ``format=csv``: the whole ranking (up to 10,000 rows) as CSV."""
    filters = RiskFilters(days=days, segment=segment or None, min_score=min_score)
    if wants_csv(request, format):  # the whole ranking, not one page
        return _at_risk_csv(at_risk(session, filters=filters, limit=CSV_MAX_ROWS))
    return at_risk(session, filters=filters, cursor=cursor, limit=limit)


def _at_risk_csv(page: AtRiskPage) -> Response:
    rows = [
        {
            "customer_id": item.customer.id, "ref": item.customer.ref, "name": item.customer.name,
            "email": item.customer.email, "segment": item.customer.segment, "score": item.score,
            "reasons": [reason.text for reason in item.reasons],
            "reason_codes": [reason.code for reason in item.reasons],
            "last_feedback_at": item.last_feedback_at, "open_cases": item.open_cases,
        }
        for item in page.items
    ]  # fmt: skip
    return csv_response("customers-at-risk", rows)


@router.get("/{customer_id}", summary="One customer", response_model=CustomerDetail)
def customer_route(
    session: SessionDep,
    _key: ReadKey,
    customer_id: PathId,
    days: Days = 30,
    cursor: str | None = None,
    limit: Limit = 50,
) -> CustomerDetail:
    """A customer: their feedback newest first (paged), cases, scores and current risk."""
    return customer_detail(session, customer_id=customer_id, days=days, cursor=cursor, limit=limit)
