"""JSON API for surveys (admin) and the widget's public routes (config, responses)."""

from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from hub.errors import InvalidInput, MalformedJson, UnsupportedMediaType
from hub.feedback.service import item_errors
from hub.http.deps import AdminKey, SessionDep, SettingsDep
from hub.http.params import PathId
from hub.http.rate_limit import RateLimiter
from hub.store.engine import session_scope
from hub.surveys.cache import WidgetSurvey, WidgetSurveys
from hub.surveys.cors import invalidate_widget_origins
from hub.surveys.models import (
    ResponseAccepted,
    ResponseIn,
    ResponseResult,
    SurveyCreate,
    SurveyPublic,
    SurveyUpdate,
    WidgetConfig,
)
from hub.surveys.service import (
    Submission,
    admit_response,
    check_idempotency_key,
    create_survey,
    get_survey,
    list_surveys,
    require_active,
    update_survey,
    widget_config,
    widget_survey,
)
from hub.surveys.writer import ResponseWriter

router = APIRouter(prefix="/api/v1/surveys", tags=["surveys"])
widget_router = APIRouter(prefix="/api/v1", tags=["widget"])
ERROR = {"description": 'The error body `{"error": {"code", "message", "details"}}`'}
RESPONSE_ERRORS: dict[int | str, dict[str, Any]] = {
    status: ERROR for status in (400, 403, 404, 413, 415, 422, 429)
}
# The route reads its body and header itself (no dependency solving per post), so they are
# documented here.
RESPONSE_REQUEST = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": True,
            "description": "8-64 of [A-Za-z0-9_-], made by the widget, the same on every retry "
            "of one response",
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ResponseIn"}}},
    },
}


def hub_url(request: Request, settings: SettingsDep) -> str:
    """The hub's public base URL: ``HUB_PUBLIC_URL``, else the one this request came to."""
    return settings.public_url or str(request.base_url).rstrip("/")


HubUrl = Annotated[str, Depends(hub_url)]


@dataclass(frozen=True, slots=True)
class WidgetState:
    """What the responses route keeps per process: its rate limiter, survey cache and writer."""

    limiter: RateLimiter
    surveys: WidgetSurveys
    writer: ResponseWriter


def widget_state(app: FastAPI) -> WidgetState:
    """This app's ``WidgetState``, made on first use."""
    state: WidgetState | None = getattr(app.state, "widget", None)
    if state is None:
        limiter = RateLimiter(app.state.settings.redis_url)
        state = WidgetState(limiter, WidgetSurveys(), ResponseWriter(app.state.engine))
        app.state.widget = state
    return state


@router.get("", summary="List surveys")
def list_surveys_route(session: SessionDep, _key: AdminKey, url: HubUrl) -> list[SurveyPublic]:
    """Every survey with its widget key, allowed origins and snippet, newest first."""
    return list_surveys(session, hub_url=url)


@router.post("", summary="Create a survey", status_code=201)
def create_survey_route(
    data: SurveyCreate, session: SessionDep, _key: AdminKey, url: HubUrl
) -> SurveyPublic:
    """A survey with a new public widget key (`pk_…`) and its own `widget` source."""
    created = create_survey(session, data=data, hub_url=url)
    invalidate_widget_origins()
    return created


@router.get("/{survey_id}", summary="Get a survey")
def get_survey_route(
    survey_id: PathId, session: SessionDep, _key: AdminKey, url: HubUrl
) -> SurveyPublic:
    """One survey."""
    return get_survey(session, survey_id=survey_id, hub_url=url)


@router.patch("/{survey_id}", summary="Change a survey")
def update_survey_route(
    survey_id: PathId, data: SurveyUpdate, session: SessionDep, _key: AdminKey, url: HubUrl
) -> SurveyPublic:
    """Change texts, allowed origins, rate limit or `active`; the key and source stay."""
    updated = update_survey(session, survey_id=survey_id, data=data, hub_url=url)
    invalidate_widget_origins()
    return updated


@widget_router.get(
    "/widget/config", summary="A widget's survey", responses={403: ERROR, 404: ERROR}
)
def widget_config_route(
    request: Request,
    session: SessionDep,
    key: Annotated[str, Query(min_length=1, max_length=64, description="The `pk_…` key")],
) -> WidgetConfig:
    """The survey a public widget key shows: type, question and follow-up per language."""
    return widget_config(session, public_key=key, origin=request.headers.get("origin"))


async def widget_response(request: Request) -> ResponseIn:
    """The widget's body: JSON (else 415), an Idempotency-Key (else 400), parseable (else 400),
    the right shape (else 422)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"send the response as application/json (got {media_type or 'no Content-Type'})"
        )
    check_idempotency_key(request.headers.get("idempotency-key"))
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(
            "the body must be a JSON object",
            details=[{"loc": ["body"], "message": "expected an object"}],
        )
    try:
        return ResponseIn.model_validate(data)
    except ValidationError as exc:
        details = [{"loc": ["body", *e.loc], "message": e.message} for e in item_errors(exc)]
        summary = "; ".join(f"{'.'.join(map(str, d['loc'][1:]))}: {d['message']}" for d in details)
        raise InvalidInput(summary, details=details) from None


@widget_router.post(
    "/responses",
    summary="Submit a widget response",
    status_code=201,
    openapi_extra=RESPONSE_REQUEST,
    responses={
        200: {"model": ResponseResult, "description": "Already stored: the same id"},
        202: {"model": ResponseAccepted, "description": "Accepted, not stored (honeypot)"},
        **RESPONSE_ERRORS,
    },
)
async def submit_response_route(request: Request) -> JSONResponse:
    """Store one response from a survey widget, once per `Idempotency-Key` (public key, no auth)."""
    # No dependencies: everything but the write runs in the event loop (the key's survey comes
    # from a cache), and the write is one thread hop shared with concurrent posts.
    response = await widget_response(request)
    widget = widget_state(request.app)
    submission = Submission(
        idempotency_key=request.headers.get("idempotency-key"),
        origin=request.headers.get("origin"),
        client_ip=request.client.host if request.client else "unknown",
        user_agent=request.headers.get("user-agent"),
    )
    survey = widget.surveys.cached(response.key)
    if survey is None:  # a key not seen for a while: one more hop, to read it
        survey = await run_in_threadpool(
            _load_survey, request.app.state.engine, widget, response.key
        )
    admit = partial(
        admit_response,
        require_active(survey),
        response=response,
        submission=submission,
        limiter=widget.limiter,
        default_rate_limit=request.app.state.settings.widget_rate_limit_per_minute,
    )
    # A shared (Redis) limiter is a network call: off the event loop.
    admitted = await run_in_threadpool(admit) if widget.limiter.is_shared else admit()
    if isinstance(admitted, ResponseAccepted):
        return JSONResponse(admitted.model_dump(), status_code=202)
    result = await widget.writer.write(admitted)  # committed: a 2xx means stored
    status = 201 if result.status == "created" else 200
    return JSONResponse(result.model_dump(), status_code=status)


def _load_survey(engine: Engine, widget: WidgetState, public_key: str) -> WidgetSurvey | None:
    with session_scope(engine) as session:
        return widget.surveys.get(public_key, lambda key: widget_survey(session, public_key=key))
