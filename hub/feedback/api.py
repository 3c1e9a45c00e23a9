"""JSON API for feedback: ingest one item or a batch, list with filters, get one."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from hub.errors import InvalidInput
from hub.feedback.corrections import SentimentCorrection, correct_sentiment
from hub.feedback.export import FEEDBACK_COLUMNS, feedback_rows
from hub.feedback.json_input import load_body
from hub.feedback.models import (
    Channel,
    FeedbackPage,
    FeedbackPublic,
    IngestSummary,
    ScoreType,
)
from hub.feedback.queries import FeedbackFilters, count_feedback, get_feedback, list_feedback
from hub.feedback.service import ingest
from hub.http.csv_export import Format, csv_stream, refuse_oversized, wants_csv
from hub.http.deps import AdminKey, IngestKey, ReadKey, SessionDep, SettingsDep
from hub.http.params import PathId, QueryDateTime

router = APIRouter(prefix="/api/v1/feedback", tags=["feedback"])

INGEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/FeedbackIn"},
                        {"$ref": "#/components/schemas/FeedbackBatchIn"},
                    ]
                }
            }
        },
    }
}


async def ingest_payload(request: Request) -> Any:
    """The body, read so that an item the hub cannot store is rejected alone (not its batch)."""
    return load_body(await request.body())


@router.post(
    "",
    summary="Ingest feedback",
    openapi_extra=INGEST_BODY,
    responses={
        200: {"model": IngestSummary, "description": "A batch: one result per item, in order."},
        201: {"model": FeedbackPublic, "description": "One item, stored now."},
    },
)
def ingest_feedback(
    payload: Annotated[Any, Depends(ingest_payload)],
    session: SessionDep,
    settings: SettingsDep,
    _key: IngestKey,
) -> Response:
    """Store one item (201 new, 200 already stored) or a batch `{"items": [...]}` (200)."""
    if isinstance(payload, dict) and "items" in payload:
        items = _batch_items(payload, limit=settings.max_batch_items)
        summary = ingest(session, raw_items=items)
        return Response(orjson.dumps(summary), media_type="application/json")
    if not isinstance(payload, dict):
        raise InvalidInput(
            'the body must be a JSON object: one item, or {"items": [...]}',
            details=[{"loc": ["body"], "message": "expected an object"}],
        )
    result = ingest(session, raw_items=[payload]).results[0]
    if result.status == "rejected":
        errors = result.errors or []
        details = [{"loc": ["body", *e.loc], "message": e.message} for e in errors]
        summary_text = "; ".join(_described(e.loc, e.message) for e in errors)
        raise InvalidInput(f"invalid feedback item: {summary_text}", details=details)
    assert result.id is not None
    stored = get_feedback(session, feedback_id=result.id)
    status = 201 if result.status == "created" else 200
    return JSONResponse(stored.model_dump(mode="json"), status_code=status)


@router.get(
    "",
    summary="List feedback",
    response_model=FeedbackPage,
    responses={200: {"content": {"text/csv": {}}}},
)
def list_feedback_route(
    request: Request,
    session: SessionDep,
    _key: ReadKey,
    settings: SettingsDep,
    source: str | None = None,
    channel: Channel | None = None,
    score_type: ScoreType | None = None,
    language: str | None = None,
    sentiment: str | None = None,
    customer: Annotated[
        str | None,
        Query(max_length=200, description="part of the customer's name, email or ref (any case)"),
    ] = None,
    since: Annotated[QueryDateTime | None, Query(description="created at or after")] = None,
    until: Annotated[QueryDateTime | None, Query(description="created before")] = None,
    q: Annotated[str | None, Query(max_length=200, description="text search")] = None,
    topic: Annotated[
        str | None, Query(description="topic key; an unknown key matches nothing")
    ] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    format: Annotated[
        Format | None, Query(description="csv: every matching item (or Accept: text/csv)")
    ] = None,
) -> Response | FeedbackPage:
    """List feedback, newest first, filtered; follow `next_cursor` for more.

    As CSV, every matching item in one download (`cursor` and `limit` do not apply), up to
    `HUB_EXPORT_MAX_ROWS`; more is a 422 asking for narrower filters."""
    filters = FeedbackFilters(
        source=source,
        channel=channel,
        score_type=score_type,
        language=language,
        sentiment=sentiment,
        customer_search=customer,
        since=_aware(since),
        until=_aware(until),
        q=q,
        topic=topic,
    )
    if wants_csv(request, format):
        max_rows = settings.export_max_rows
        refuse_oversized(count_feedback(session, filters=filters), max_rows=max_rows)
        rows = feedback_rows(request.app.state.engine, filters=filters, max_rows=max_rows)
        return csv_stream("feedback", FEEDBACK_COLUMNS, rows)
    return list_feedback(session, filters=filters, cursor=cursor, limit=limit)


@router.patch("/{feedback_id}/sentiment", summary="Correct an item's sentiment")
def correct_sentiment_route(
    feedback_id: PathId, correction: SentimentCorrection, session: SessionDep, _key: AdminKey
) -> FeedbackPublic:
    """Set the sentiment by hand; workers keep it and the next training learns from it."""
    correct_sentiment(session, feedback_id=feedback_id, sentiment=correction.sentiment)
    return get_feedback(session, feedback_id=feedback_id)


@router.get("/{feedback_id}", summary="Get one feedback item")
def get_feedback_route(feedback_id: PathId, session: SessionDep, _key: ReadKey) -> FeedbackPublic:
    """One feedback item by id."""
    return get_feedback(session, feedback_id=feedback_id)


def _batch_items(payload: dict[str, Any], *, limit: int) -> list[Any]:
    unknown = sorted(set(payload) - {"items"})
    if unknown:
        raise InvalidInput(
            f"unknown field(s) beside `items`: {', '.join(unknown)}",
            details=[{"loc": ["body", name], "message": "unknown field"} for name in unknown],
        )
    items = payload["items"]
    if not isinstance(items, list) or not items:
        raise InvalidInput(
            "`items` must be a non-empty list",
            details=[{"loc": ["body", "items"], "message": "expected a non-empty list"}],
        )
    if len(items) > limit:
        raise InvalidInput(
            f"a batch holds at most {limit} items (got {len(items)}); split it",
            details=[{"loc": ["body", "items"], "message": f"at most {limit} items"}],
        )
    return items


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _described(field_path: Sequence[Any], message: str) -> str:
    """``customer.email: not valid``, or the bare message for errors about the whole item."""
    return f"{'.'.join(str(p) for p in field_path)}: {message}" if field_path else message
