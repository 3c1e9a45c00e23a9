"""The customer's follow-up page: one click answers, a comment box thanks and asks for more.

No sign-in and no CSRF token: the signed token in the path is what binds a request to one case
(a forged or tampered one is a 404, an expired one a 410). Rate limited per client address like
the widget (``HUB_FOLLOWUP_RATE_LIMIT_PER_MINUTE``).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, select

from hub.errors import HubError, InvalidInput, NotFound
from hub.http.deps import SessionDep, SettingsDep
from hub.http.rate_limit import RateLimiter
from hub.loop import tokens
from hub.loop.followup import add_comment, answer, followup_of, followup_score
from hub.loop.models import Followup, FollowupKind
from hub.loop.texts import TEXTS, choices
from web.templating import templates

router = APIRouter(include_in_schema=False)
# Any string: a bad one is the 404 page, not a JSON 422.
Token = Annotated[str, Path()]


@router.get("/followup/{token}", response_class=HTMLResponse)
def followup(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Token,
    score: str | None = None,
) -> HTMLResponse:
    """The customer's one-click answer (``?score=N``), or the question when no score is given."""
    refused = _refusal(request, session, settings, token)
    if isinstance(refused, HTMLResponse):
        return refused
    if score is None:
        return _page(request, refused, token, state="question")
    try:
        value = int(score) if score.strip().lstrip("-").isdigit() else -1
        answer(session, followup=refused, score=value)
    except InvalidInput:
        return _page(request, refused, token, state="bad_score", status_code=422)
    return _page(request, refused, token, state="answered", score=value)


@router.post("/followup/{token}", response_class=HTMLResponse)
def comment(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Token,
    comment: Annotated[str, Form()] = "",  # its length is checked here: a page, not JSON
) -> HTMLResponse:
    """The optional comment, kept on the same answer."""
    refused = _refusal(request, session, settings, token)
    if isinstance(refused, HTMLResponse):
        return refused
    try:
        add_comment(session, followup=refused, comment=comment)
    except HubError as exc:
        state = "question" if isinstance(exc, NotFound) else "answered"
        return _page(request, refused, token, state=state, status_code=exc.status_code,
                     error=exc.message, score=followup_score(session, refused))  # fmt: skip
    return _page(request, refused, token, state="commented")


def _refusal(
    request: Request, session: Session, settings: Any, token: str
) -> Followup | HTMLResponse:
    """The token's follow-up, or the page that refuses it (429, 404 or 410)."""
    limiter = _limiter(request)
    client = request.client.host if request.client else "unknown"
    wait = limiter.hit(("followup", client), limit=settings.followup_rate_limit_per_minute)
    if wait:
        response = _notice(request, "en", "rate_limited", 429)
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        return followup_of(session, settings=settings, token=token)
    except (tokens.BadToken, NotFound):
        return _notice(request, "en", "unknown", 404)
    except tokens.ExpiredToken as exc:
        found = session.exec(select(Followup).where(Followup.case_id == exc.case_id)).first()
        return _notice(request, found.language if found else "en", "expired", 410)


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, "followup_limiter", None)
    if limiter is None:
        limiter = RateLimiter(request.app.state.settings.redis_url)
        request.app.state.followup_limiter = limiter
    return limiter


def _page(
    request: Request,
    followup: Followup,
    token: str,
    *,
    state: str,
    status_code: int = 200,
    score: int | None = None,
    error: str | None = None,
) -> HTMLResponse:
    texts = TEXTS[followup.language]
    context = {
        "lang": followup.language,
        "t": texts,
        "state": state,
        "case_id": followup.case_id,
        "question": texts.question.format(case_id=followup.case_id),
        "choices": choices(FollowupKind(followup.kind), followup.language),
        "score": score,
        "action": f"/followup/{token}",
        "error": error,
    }
    return templates.TemplateResponse(request, "followup.html", context, status_code=status_code)


def _notice(request: Request, language: str, state: str, status_code: int) -> HTMLResponse:
    context = {"lang": language, "t": TEXTS[language], "state": state}
    return templates.TemplateResponse(request, "followup.html", context, status_code=status_code)
