"""The surveys page (admins): every survey with its widget key and snippet; create and edit them.

A form is kept as typed (strings), so a refused one comes back with the input and a reason per
field. Every change calls ``invalidate_widget_origins``, as the JSON API does, so the widget's
CORS preflights follow a change of origins or of ``active`` at once.
"""

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from hub.http.deps import SessionDep, SettingsDep
from hub.scores import SCALES
from hub.surveys.api import HubUrl
from hub.surveys.cors import invalidate_widget_origins
from hub.surveys.models import (
    DEFAULT_FOLLOW_UP,
    LANGUAGES,
    MAX_ORIGINS,
    MAX_QUESTION_CHARS,
    SurveyCreate,
    SurveyPublic,
    SurveyType,
    SurveyUpdate,
)
from hub.surveys.service import create_survey, get_survey, list_surveys, update_survey
from web.admin.common import Admin, redirect, render
from web.auth import check_csrf

router = APIRouter()
M = TypeVar("M", SurveyCreate, SurveyUpdate)

LANGUAGE_NAMES = {"en": "English", "es": "Spanish", "pt": "Portuguese"}
TYPE_NAMES = {
    SurveyType.nps: "NPS",
    SurveyType.csat: "CSAT",
    SurveyType.ces: "CES",
    SurveyType.thumbs: "Thumbs",
}
FIELD_LABELS = {
    "name": "Name",
    "type": "Type",
    **{f"question_{lang}": f"Question ({LANGUAGE_NAMES[lang]})" for lang in LANGUAGES},
    **{f"follow_up_{lang}": f"Follow-up ({LANGUAGE_NAMES[lang]})" for lang in LANGUAGES},
    "allowed_origins": "Allowed origins",
    "rate_limit": "Rate limit",
    "allow_without_origin": "Requests without Origin",
    "active": "Active",
}
RATE_RANGE = "give 1 to 1,000,000 responses a minute, or leave it empty for the default"
# Better words than pydantic's for the mistakes people make in this form, by (field, error type).
MESSAGES = {
    ("name", "string_too_short"): "give the survey a name",
    ("question_en", "string_type"): "give the question in English (the fallback for every visitor)",
    ("allowed_origins", "too_short"): "give at least one origin, such as https://shop.example.com",
    ("rate_limit", "greater_than_equal"): RATE_RANGE,
    ("rate_limit", "less_than_equal"): RATE_RANGE,
    ("type", "enum"): "choose NPS, CSAT, CES or thumbs",
}


class SurveyForm(BaseModel):
    """The survey form's fields as typed: kept as given, so a refused form shows them again."""

    csrf_token: str = ""
    name: str = ""
    type: str = SurveyType.nps.value
    question_en: str = ""
    question_es: str = ""
    question_pt: str = ""
    follow_up_en: str = ""
    follow_up_es: str = ""
    follow_up_pt: str = ""
    allowed_origins: str = ""  # one per line
    rate_limit: str = ""  # empty: the HUB_WIDGET_RATE_LIMIT_PER_MINUTE default
    allow_without_origin: bool = False
    active: bool = False  # only the edit form has it

    def texts(self, prefix: str) -> dict[str, str | None]:
        """The question or follow-up per language; an empty one is None (English is shown)."""
        return {lang: str(getattr(self, f"{prefix}_{lang}")).strip() or None for lang in LANGUAGES}


SurveyFormDep = Annotated[SurveyForm, Form()]


@router.get("/surveys", response_class=HTMLResponse)
def surveys_page(
    request: Request, session: SessionDep, _user: Admin, url: HubUrl, settings: SettingsDep
) -> HTMLResponse:
    """Every survey with its texts, origins, limit, public key and snippet; a new-survey form."""
    surveys = list_surveys(session, hub_url=url)
    return _surveys(request, surveys, SurveyForm(), {}, settings.widget_rate_limit_per_minute)


@router.post("/surveys", response_class=HTMLResponse)
def add_survey(
    request: Request,
    session: SessionDep,
    _user: Admin,
    url: HubUrl,
    settings: SettingsDep,
    form: SurveyFormDep,
) -> Response:
    """Create a survey with a new public widget key and its own ``widget`` source."""
    check_csrf(request, form.csrf_token)
    data, errors = _parse(SurveyCreate, form, new=True)
    if data is None:
        surveys = list_surveys(session, hub_url=url)
        limit = settings.widget_rate_limit_per_minute
        return _surveys(request, surveys, form, errors, limit, status=422)
    created = create_survey(session, data=data, hub_url=url)
    invalidate_widget_origins()
    return redirect(f"/admin/surveys?done=survey#survey-{created.id}")


@router.get("/surveys/{survey_id}", response_class=HTMLResponse)
def edit_survey_page(
    request: Request,
    session: SessionDep,
    _user: Admin,
    url: HubUrl,
    settings: SettingsDep,
    survey_id: int,
) -> HTMLResponse:
    """The form of a stored survey."""
    survey = get_survey(session, survey_id=survey_id, hub_url=url)
    limit = settings.widget_rate_limit_per_minute
    return _edit_form(request, survey, form_of(survey), {}, limit)


@router.post("/surveys/{survey_id}", response_class=HTMLResponse)
def edit_survey(
    request: Request,
    session: SessionDep,
    _user: Admin,
    url: HubUrl,
    settings: SettingsDep,
    survey_id: int,
    form: SurveyFormDep,
) -> Response:
    """Save a survey's texts, origins, limit and state; its key and source stay."""
    check_csrf(request, form.csrf_token)
    survey = get_survey(session, survey_id=survey_id, hub_url=url)
    changes, errors = _parse(SurveyUpdate, form, new=False)
    if changes is None:
        limit = settings.widget_rate_limit_per_minute
        return _edit_form(request, survey, form, errors, limit, status=422)
    update_survey(session, survey_id=survey_id, data=changes, hub_url=url)
    invalidate_widget_origins()
    return redirect(f"/admin/surveys?done=survey_saved#survey-{survey_id}")


def form_of(survey: SurveyPublic) -> SurveyForm:
    """The form of a stored survey."""
    texts = {
        f"{prefix}_{lang}": getattr(getattr(survey, prefix), lang) or ""
        for prefix in ("question", "follow_up")
        for lang in LANGUAGES
    }
    return SurveyForm(
        name=survey.name,
        type=survey.type.value,
        allowed_origins="\n".join(survey.allowed_origins),
        rate_limit=str(survey.rate_limit_per_minute or ""),
        allow_without_origin=survey.allow_without_origin,
        active=survey.active,
        **texts,
    )


def _parse(model: type[M], form: SurveyForm, *, new: bool) -> tuple[M | None, dict[str, str]]:
    """The create or update a form describes, or None and what is wrong, by form field."""
    errors: dict[str, str] = {}
    rate: int | None = None
    if form.rate_limit.strip():
        try:
            rate = int(form.rate_limit.strip())
        except ValueError:
            errors["rate_limit"] = RATE_RANGE
    follow_up = form.texts("follow_up")
    if not any(follow_up.values()):  # all emptied: the defaults, as a new survey gets
        follow_up = dict(DEFAULT_FOLLOW_UP)
    data: dict[str, Any] = {
        "name": form.name.strip(),
        "question": form.texts("question"),
        "follow_up": follow_up,
        "allowed_origins": [o.strip() for o in form.allowed_origins.splitlines() if o.strip()],
        "rate_limit_per_minute": rate,
        "allow_without_origin": form.allow_without_origin,
        **({"type": form.type} if new else {"active": form.active}),
    }
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            field = _field(error["loc"])
            errors.setdefault(field, MESSAGES.get((field, error["type"]), _message(error)))
        return None, errors
    return (None, errors) if errors else (parsed, errors)


def _field(loc: tuple[int | str, ...]) -> str:
    """The form field a validation error belongs to."""
    if not loc:
        return "name"
    if loc[0] in ("question", "follow_up"):
        return f"{loc[0]}_{loc[1] if len(loc) > 1 else 'en'}"
    return "rate_limit" if loc[0] == "rate_limit_per_minute" else str(loc[0])


def _message(error: ErrorDetails) -> str:
    return str(error["msg"]).removeprefix("Value error, ")


def _options() -> list[tuple[str, str]]:
    """The survey types with their score ranges, for the type select."""
    scales = {kind: f"{SCALES[kind].low} to {SCALES[kind].high}" for kind in SurveyType}
    scales[SurveyType.thumbs] = "down or up"
    return [(kind.value, f"{TYPE_NAMES[kind]} ({scales[kind]})") for kind in SurveyType]


def _common(form: SurveyForm, errors: dict[str, str], default_limit: int) -> dict[str, Any]:
    return {
        "form": form,
        "errors": errors,
        "labels": FIELD_LABELS,
        "languages": [(lang, LANGUAGE_NAMES[lang]) for lang in LANGUAGES],
        "type_options": _options(),
        "type_names": {kind.value: name for kind, name in TYPE_NAMES.items()},
        "default_limit": default_limit,
        "max_question": MAX_QUESTION_CHARS,
        "max_origins": MAX_ORIGINS,
    }


def _surveys(
    request: Request,
    surveys: list[SurveyPublic],
    form: SurveyForm,
    errors: dict[str, str],
    default_limit: int,
    *,
    status: int = 200,
) -> HTMLResponse:
    context = {"surveys": surveys, **_common(form, errors, default_limit)}
    return render(request, "admin_surveys.html", context, status)


def _edit_form(
    request: Request,
    survey: SurveyPublic,
    form: SurveyForm,
    errors: dict[str, str],
    default_limit: int,
    *,
    status: int = 200,
) -> HTMLResponse:
    context = {"survey": survey, **_common(form, errors, default_limit)}
    return render(request, "admin_survey_form.html", context, status)
