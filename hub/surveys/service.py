"""Surveys and their widget keys; the widget's config and the public responses endpoint."""

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from hub.auth.models import ApiKey, Scope
from hub.auth.service import create_widget_key
from hub.errors import BadRequest, Forbidden, InvalidInput, NotFound, RateLimited
from hub.feedback.models import ItemError
from hub.feedback.service import ingest
from hub.http.rate_limit import RateLimiter
from hub.scores import SCALES
from hub.sources.models import Source
from hub.sources.service import ensure_source
from hub.surveys.cache import WidgetSurvey, WidgetSurveys
from hub.surveys.models import (
    DEFAULT_FOLLOW_UP,
    ResponseAccepted,
    ResponseIn,
    ResponseResult,
    Survey,
    SurveyCreate,
    SurveyPublic,
    SurveyType,
    SurveyUpdate,
    Texts,
    WidgetConfig,
    normalised_origin,
)

WIDGET_SOURCE_KIND = "widget"
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_USER_AGENT_CHARS = 500
# Where the ingest item's fields came from in the widget's body, for error paths.
WIDGET_FIELD = {"text": "comment", "url": "metadata", "customer": "customer", "ref": "id"}


@dataclass(slots=True)
class Submission:
    """Everything about one widget post besides its body."""

    idempotency_key: str | None
    origin: str | None
    client_ip: str
    user_agent: str | None


def snippet(*, hub_url: str, public_key: str) -> str:
    """The one tag a site pastes to show the widget."""
    return f'<script src="{hub_url.rstrip("/")}/widget.js" data-key="{public_key}" async></script>'


def create_survey(session: Session, *, data: SurveyCreate, hub_url: str) -> SurveyPublic:
    """A survey with a new public widget key and its own ``widget`` source."""
    name = data.name or f"{data.type.value.upper()} survey"
    key = create_widget_key(
        session,
        name=f"widget: {name}",
        allowed_origins=data.allowed_origins,
        rate_limit_per_minute=data.rate_limit_per_minute,
    )
    source = ensure_source(session, name=f"widget-{key.prefix}", kind=WIDGET_SOURCE_KIND)
    assert key.id is not None and source.id is not None
    follow_up = data.follow_up or Texts.model_validate(DEFAULT_FOLLOW_UP)
    survey = Survey(
        name=name,
        type=data.type.value,
        question=data.question.model_dump(),
        follow_up=follow_up.model_dump(),
        key_id=key.id,
        source_id=source.id,
        allow_without_origin=data.allow_without_origin,
    )
    session.add(survey)
    session.flush()
    return _public(survey, key, source, hub_url=hub_url)


def list_surveys(session: Session, *, hub_url: str) -> list[SurveyPublic]:
    """Every survey, newest first."""
    rows = session.exec(_with_key_and_source().order_by(col(Survey.id).desc())).all()
    return [_public(survey, key, source, hub_url=hub_url) for survey, key, source in rows]


def get_survey(session: Session, *, survey_id: int, hub_url: str) -> SurveyPublic:
    """One survey."""
    survey, key, source = _by_id(session, survey_id)
    return _public(survey, key, source, hub_url=hub_url)


def update_survey(
    session: Session, *, survey_id: int, data: SurveyUpdate, hub_url: str
) -> SurveyPublic:
    """Change a survey's texts, origins, limit or state; its key and source stay."""
    survey, key, source = _by_id(session, survey_id)
    given = data.model_fields_set
    if data.name is not None:
        survey.name = data.name
    if data.question is not None:
        survey.question = data.question.model_dump()
    if data.follow_up is not None:
        survey.follow_up = data.follow_up.model_dump()
    if data.active is not None:
        survey.active = data.active
    if data.allow_without_origin is not None:
        survey.allow_without_origin = data.allow_without_origin
    if data.allowed_origins is not None:
        key.allowed_origins = list(data.allowed_origins)
    if "rate_limit_per_minute" in given:  # null: back to the HUB_ default
        key.rate_limit_per_minute = data.rate_limit_per_minute
    session.add_all([survey, key])
    session.flush()
    return _public(survey, key, source, hub_url=hub_url)


def active_widget_origins(session: Session) -> set[str]:
    """Every origin some active survey's unrevoked key allows (what preflights are checked on)."""
    query = (
        select(ApiKey.allowed_origins)
        .join(Survey, col(Survey.key_id) == col(ApiKey.id))
        .where(col(Survey.active).is_(True), col(ApiKey.revoked_at).is_(None))
    )
    return {origin for origins in session.exec(query) for origin in origins}


def widget_config(session: Session, *, public_key: str, origin: str | None) -> WidgetConfig:
    """What the widget renders; 404 for an unknown, revoked or inactive key, 403 bad origin.

    A request without an Origin (a server, curl) may read it: it is what the snippet shows.
    """
    survey, key, _source = _active_survey(session, public_key)
    if origin is not None:
        _check_origin(key.allowed_origins, origin)
    assert survey.id is not None
    return WidgetConfig(
        survey_id=survey.id,
        type=SurveyType(survey.type),
        question=Texts.model_validate(survey.question),
        follow_up=Texts.model_validate(survey.follow_up),
    )


def submit_response(
    session: Session,
    *,
    response: ResponseIn,
    submission: Submission,
    limiter: RateLimiter,
    default_rate_limit: int,
    surveys: WidgetSurveys | None = None,
) -> ResponseResult | ResponseAccepted:
    """Store a widget response once per (survey, Idempotency-Key) as survey feedback.

    ``surveys`` caches each key's survey across requests; without it, it is read every time.
    """
    check_idempotency_key(submission.idempotency_key)
    survey = active_widget_survey(session, public_key=response.key, surveys=surveys)
    admitted = admit_response(
        survey,
        response=response,
        submission=submission,
        limiter=limiter,
        default_rate_limit=default_rate_limit,
    )
    if isinstance(admitted, ResponseAccepted):
        return admitted
    [result] = store_responses(session, items=[admitted])
    if isinstance(result, InvalidInput):
        raise result
    return result


def admit_response(
    survey: WidgetSurvey,
    *,
    response: ResponseIn,
    submission: Submission,
    limiter: RateLimiter,
    default_rate_limit: int,
) -> dict[str, Any] | ResponseAccepted:
    """The checks a response to an active survey must pass (no database): its ingest item.

    403 for an origin the key does not allow, 429 over the rate limit, 422 for a score out of
    range; a filled honeypot is accepted and goes no further.
    """
    idempotency_key = check_idempotency_key(submission.idempotency_key)
    if submission.origin is not None:
        _check_origin(survey.allowed_origins, submission.origin)
    elif not survey.allow_without_origin:
        raise Forbidden(
            "this widget key only accepts browser requests (with an Origin header)",
            details=[{"loc": ["header", "Origin"], "message": "missing"}],
        )
    limit = survey.rate_limit_per_minute or default_rate_limit
    wait = limiter.hit((survey.key_id, submission.client_ip), limit=limit)
    if wait:
        raise RateLimited(
            f"more than {limit} responses a minute from this address with this key; "
            f"retry in {wait} s",
            retry_after=wait,
        )
    if response.website not in (None, "", False):
        return ResponseAccepted()  # a bot filled the honeypot: say yes, store nothing
    _check_score(survey.survey_type, response.score)
    return _feedback_item(survey, response, submission, idempotency_key)


def store_responses(
    session: Session, *, items: Sequence[dict[str, Any]]
) -> list[ResponseResult | InvalidInput]:
    """Ingest admitted responses together: each one's result, or its 422 if ingest refused it."""
    outcomes: list[ResponseResult | InvalidInput] = []
    for result in ingest(session, raw_items=items, source_kind=WIDGET_SOURCE_KIND).results:
        if result.status == "rejected":
            outcomes.append(_rejected(result.errors or []))
        else:
            assert result.id is not None
            outcomes.append(ResponseResult(id=result.id, status=result.status))
    return outcomes


def _rejected(errors: Sequence[ItemError]) -> InvalidInput:
    details = [
        {"loc": ["body", *(WIDGET_FIELD.get(str(p), p) for p in e.loc)], "message": e.message}
        for e in errors
    ]
    summary = "; ".join(f"{'.'.join(map(str, d['loc'][1:]))}: {d['message']}" for d in details)
    return InvalidInput(f"invalid response: {summary}", details=details)


def check_idempotency_key(value: str | None) -> str:
    """The ``Idempotency-Key`` header: 8 to 64 of ``[A-Za-z0-9_-]``; else 400."""
    if value is None or not value.strip():
        raise BadRequest(
            "missing Idempotency-Key header: send 8-64 characters of [A-Za-z0-9_-], the same "
            "on every retry of one response",
            details=[{"loc": ["header", "Idempotency-Key"], "message": "missing"}],
        )
    if not IDEMPOTENCY_KEY.fullmatch(value):
        raise BadRequest(
            "the Idempotency-Key header must be 8-64 characters of [A-Za-z0-9_-]",
            details=[{"loc": ["header", "Idempotency-Key"], "message": "malformed"}],
        )
    return value


def _check_score(survey_type: SurveyType, score: int) -> None:
    low, high = SCALES[survey_type].bounds
    if not low <= score <= high:
        message = f"score {score} is out of range for {survey_type.value} ({low}-{high})"
        raise InvalidInput(
            f"score: {message}", details=[{"loc": ["body", "score"], "message": message}]
        )


def widget_survey(session: Session, *, public_key: str) -> WidgetSurvey | None:
    """The survey behind a widget key (revoked and inactive ones too), or None if none."""
    query = (
        sa_select(
            *map(col, (Survey.id, Survey.type, Survey.active, Survey.allow_without_origin)),
            *map(col, (ApiKey.id, ApiKey.scopes, ApiKey.revoked_at, ApiKey.allowed_origins)),
            col(ApiKey.rate_limit_per_minute),
            col(Source.name),
        )
        .join(ApiKey, col(Survey.key_id) == col(ApiKey.id))
        .join(Source, col(Survey.source_id) == col(Source.id))
        .where(col(ApiKey.prefix) == public_key)
    )
    row = session.execute(query).first()
    if row is None or Scope.submit.value not in row[5]:
        return None
    survey_id, type_, active, without_origin, key_id, _, revoked_at, origins, limit, source = row
    return WidgetSurvey(
        survey_id=survey_id,
        survey_type=SurveyType(type_),
        active=active,
        allow_without_origin=without_origin,
        key_id=key_id,
        revoked=revoked_at is not None,
        allowed_origins=frozenset(origins),
        rate_limit_per_minute=limit,
        source_name=source,
    )


def active_widget_survey(
    session: Session, *, public_key: str, surveys: WidgetSurveys | None = None
) -> WidgetSurvey:
    """The survey behind a widget key, through ``surveys`` if given; 404 unless it is active."""

    def load(key: str) -> WidgetSurvey | None:
        return widget_survey(session, public_key=key)

    return require_active(load(public_key) if surveys is None else surveys.get(public_key, load))


def require_active(survey: WidgetSurvey | None) -> WidgetSurvey:
    """404 unless the widget key is known, unrevoked and its survey active."""
    details = [{"loc": ["body", "key"], "message": "no active survey"}]
    if survey is None:
        raise NotFound("unknown widget key", details=details)
    if survey.revoked:
        raise NotFound("this widget key was revoked", details=details)
    if not survey.active:
        raise NotFound("this widget key's survey is inactive", details=details)
    return survey


def _check_origin(allowed_origins: Collection[str], origin: str) -> None:
    try:
        allowed = normalised_origin(origin) in allowed_origins
    except ValueError:
        allowed = False
    if not allowed:
        raise Forbidden(
            f"origin {origin!r} is not allowed for this widget key",
            details=[{"loc": ["header", "Origin"], "message": "not an allowed origin"}],
        )


def _feedback_item(
    survey: WidgetSurvey,
    response: ResponseIn,
    submission: Submission,
    idempotency_key: str,
) -> dict[str, Any]:
    """The ingest item a response becomes."""
    client_meta = response.metadata or {}
    page_url = client_meta.get("url") or client_meta.get("page_url")
    metadata: dict[str, Any] = {
        **client_meta,
        "survey_id": survey.survey_id,
        "origin": submission.origin,
        "user_agent": (submission.user_agent or "")[:MAX_USER_AGENT_CHARS] or None,
    }
    item: dict[str, Any] = {
        "source": survey.source_name,
        "external_id": idempotency_key,
        "channel": "survey",
        "score_type": survey.survey_type.value,
        "score": response.score,
        "text": response.comment,
        "metadata": metadata,
    }
    if isinstance(page_url, str) and urlsplit(page_url).scheme in ("http", "https"):
        item["url"] = page_url[:2048]
    customer = response.customer
    if customer is not None and (customer.id is not None or customer.email is not None):
        item["customer"] = {
            "ref": str(customer.id) if customer.id is not None else None,
            "email": customer.email,
            "name": customer.name,
            "attributes": customer.attributes,
        }
    return item


def _with_key_and_source() -> Any:
    return (
        select(Survey, ApiKey, Source)
        .join(ApiKey, col(Survey.key_id) == col(ApiKey.id))
        .join(Source, col(Survey.source_id) == col(Source.id))
    )


def _by_id(session: Session, survey_id: int) -> tuple[Survey, ApiKey, Source]:
    row = session.exec(_with_key_and_source().where(Survey.id == survey_id)).first()
    if row is None:
        raise NotFound(f"no survey with id {survey_id}")
    survey, key, source = row
    return survey, key, source


def _active_survey(session: Session, public_key: str) -> tuple[Survey, ApiKey, Source]:
    """The survey behind a widget key; 404 unless the key is known, unrevoked and active."""
    row = session.exec(_with_key_and_source().where(ApiKey.prefix == public_key)).first()
    details = [{"loc": ["body", "key"], "message": "no active survey"}]
    if row is None or Scope.submit.value not in row[1].scopes:
        raise NotFound("unknown widget key", details=details)
    survey, key, source = row
    if key.revoked_at is not None:
        raise NotFound("this widget key was revoked", details=details)
    if not survey.active:
        raise NotFound("this widget key's survey is inactive", details=details)
    return survey, key, source


def _public(survey: Survey, key: ApiKey, source: Source, *, hub_url: str) -> SurveyPublic:
    assert survey.id is not None and key.id is not None
    return SurveyPublic(
        id=survey.id,
        name=survey.name,
        type=SurveyType(survey.type),
        question=Texts.model_validate(survey.question),
        follow_up=Texts.model_validate(survey.follow_up),
        key=key.prefix,
        key_id=key.id,
        key_revoked=key.revoked_at is not None,
        allowed_origins=list(key.allowed_origins),
        rate_limit_per_minute=key.rate_limit_per_minute,
        allow_without_origin=survey.allow_without_origin,
        active=survey.active,
        source=source.name,
        created_at=survey.created_at,
        snippet=snippet(hub_url=hub_url, public_key=key.prefix),
    )
