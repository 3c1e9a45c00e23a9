"""The admin surveys page through the ASGI app: who may use it, create, edit, refusals, escaping."""

import re
from typing import Any

import httpx
import pytest
from sqlmodel import select

from hub.auth.models import ApiKey
from hub.sources.models import Source
from hub.store.engine import session_scope
from hub.surveys.models import Survey, SurveyPublic
from hub.users.models import Role
from tests.conftest import Database
from tests.signin import sign_in
from tests.surveys.conftest import ORIGIN, OTHER_ORIGIN, make_survey

pytestmark = pytest.mark.anyio
HOSTILE = '<img src=x onerror="window.__pwned = 1">'
ESCAPED = "&lt;img src=x onerror=&#34;window.__pwned = 1&#34;&gt;"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}


def new_survey_form(csrf: str, **fields: str) -> dict[str, str]:
    """A valid new-survey form, with ``fields`` changed."""
    form = {
        "csrf_token": csrf,
        "name": "Checkout CSAT",
        "type": "csat",
        "question_en": "How was checkout?",
        "question_es": "¿Qué tal el pago?",
        "question_pt": "",
        "follow_up_en": "",
        "follow_up_es": "",
        "follow_up_pt": "",
        "allowed_origins": "HTTPS://Shop.Example.com/\n\n  https://shop.example.com:8443  \n",
        "rate_limit": "12",
        "allow_without_origin": "true",
    }
    return {**form, **fields}


def edit_form(csrf: str, survey: SurveyPublic, **fields: str | None) -> dict[str, str]:
    """The edit form of ``survey`` as the page fills it in, with ``fields`` changed."""
    form = {
        "csrf_token": csrf,
        "name": survey.name,
        "question_en": survey.question.en or "",
        "question_es": survey.question.es or "",
        "question_pt": survey.question.pt or "",
        "follow_up_en": survey.follow_up.en or "",
        "follow_up_es": survey.follow_up.es or "",
        "follow_up_pt": survey.follow_up.pt or "",
        "allowed_origins": "\n".join(survey.allowed_origins),
        "rate_limit": str(survey.rate_limit_per_minute or ""),
        "active": "true",
    }
    return {k: v for k, v in {**form, **fields}.items() if v is not None}


def stored(db: Database) -> list[tuple[Survey, ApiKey, Source]]:
    with session_scope(db.engine) as session:
        rows = session.exec(
            select(Survey, ApiKey, Source)
            .join(ApiKey, Survey.key_id == ApiKey.id)  # type: ignore[arg-type]
            .join(Source, Survey.source_id == Source.id)  # type: ignore[arg-type]
        ).all()
        for row in rows:
            for part in row:
                session.expunge(part)
        return list(rows)  # type: ignore[arg-type]


def field_value(page: str, name: str) -> str:
    """The value an input of the page holds (as HTML-escaped text)."""
    found = re.search(rf'<input type="\w+" name="{name}" value="([^"]*)"', page)
    assert found is not None, name
    return found.group(1)


@pytest.mark.parametrize("role", list(Role))
async def test_only_admins_use_the_surveys_pages(
    client: httpx.AsyncClient, db: Database, role: Role
) -> None:
    survey = make_survey(db)
    csrf = await sign_in(client, db.engine, role)
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/admin/surveys", None),
        ("GET", f"/admin/surveys/{survey.id}", None),
        ("POST", "/admin/surveys", new_survey_form(csrf)),
        ("POST", f"/admin/surveys/{survey.id}", edit_form(csrf, survey, name="Renamed")),
    ]
    for method, path, form in calls:
        response = await client.request(method, path, data=form)
        if role == Role.admin:
            assert response.status_code == (200 if method == "GET" else 303), (path, response.text)
        else:
            assert response.status_code == 403, path
            assert "You need the admin role" in response.text
    names = sorted(survey.name for survey, _key, _source in stored(db))
    expected = ["Checkout CSAT", "Renamed"] if role == Role.admin else ["Checkout NPS"]
    assert names == expected
    if role == Role.lead:  # leads see the other admin pages, without the link to this one
        assert 'href="/admin/surveys"' not in (await client.get("/admin/rules")).text
    if role == Role.admin:
        page = (await client.get("/admin/surveys")).text
        assert 'href="/admin/surveys" aria-current="page">Surveys</a>' in page


async def test_signed_out_people_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/admin/surveys")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?next=/admin/surveys")


async def test_create_makes_a_key_a_source_and_shows_the_snippet(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.admin)
    done = await client.post("/admin/surveys", data=new_survey_form(csrf))
    assert done.status_code == 303
    [(survey, key, source)] = stored(db)
    assert done.headers["location"] == f"/admin/surveys?done=survey#survey-{survey.id}"
    assert key.prefix.startswith("pk_") and key.scopes == ["submit"]
    assert key.allowed_origins == [ORIGIN, "https://shop.example.com:8443"]  # normalised, unique
    assert key.rate_limit_per_minute == 12
    assert (source.kind, source.name) == ("widget", f"widget-{key.prefix}")
    assert survey.type == "csat" and survey.allow_without_origin and survey.active
    assert survey.question == {"en": "How was checkout?", "es": "¿Qué tal el pago?", "pt": None}
    assert survey.follow_up["en"] == "What is the main reason for your answer?"  # the default

    page = (await client.get(done.headers["location"])).text
    assert "Survey created: paste its snippet" in page
    assert f'<code class="key">{key.prefix}</code>' in page
    snippet = (
        f"&lt;script src=&#34;http://hub.test/widget.js&#34; data-key=&#34;{key.prefix}&#34; "
        "async&gt;&lt;/script&gt;"
    )
    assert re.search(
        rf'<textarea id="snippet-{survey.id}"[^>]*readonly[^>]*>{snippet}</textarea>', page
    )
    assert f'data-copy="snippet-{survey.id}"' in page
    assert '<script src="/static/copy.js" defer></script>' in page
    facts = ["CSAT", "How was checkout?", "¿Qué tal el pago?", "— English shown", ORIGIN]
    facts += ["https://shop.example.com:8443", "12 a minute", "<dd>allowed</dd>", source.name]
    for text in facts:
        assert text in page, text


async def test_a_survey_without_a_limit_shows_the_default(
    client: httpx.AsyncClient, db: Database
) -> None:
    make_survey(db)
    await sign_in(client, db.engine, Role.admin)
    page = (await client.get("/admin/surveys")).text
    assert '30 a minute <span class="hint">(default)</span>' in page
    assert "<dd>refused</dd>" in page  # requests without Origin
    assert '<span class="status status-ok">active</span>' in page


async def test_copy_script_is_served(client: httpx.AsyncClient) -> None:
    script = await client.get("/static/copy.js")
    assert script.status_code == 200
    assert "navigator.clipboard" in script.text


async def test_edit_changes_origins_and_the_widget_preflight_follows(
    client: httpx.AsyncClient, db: Database
) -> None:
    survey = make_survey(db, rate_limit_per_minute=5)
    csrf = await sign_in(client, db.engine, Role.admin)
    form = (await client.get(f"/admin/surveys/{survey.id}")).text
    assert field_value(form, "name") == "Checkout NPS"
    assert field_value(form, "question_es") == "¿Nos recomendarías?"
    assert field_value(form, "rate_limit") == "5"
    assert f">{ORIGIN}</textarea>" in form
    assert 'name="active" value="true" checked' in form

    async def preflight(origin: str) -> str | None:
        answer = await client.options("/api/v1/responses", headers={"Origin": origin, **PREFLIGHT})
        return answer.headers.get("access-control-allow-origin")

    assert await preflight(OTHER_ORIGIN) is None
    changes = edit_form(csrf, survey, allowed_origins=OTHER_ORIGIN, rate_limit="", name="Blog NPS")
    done = await client.post(f"/admin/surveys/{survey.id}", data=changes)
    assert done.status_code == 303
    assert done.headers["location"] == f"/admin/surveys?done=survey_saved#survey-{survey.id}"
    [(saved, key, _source)] = stored(db)
    assert (saved.name, key.allowed_origins) == ("Blog NPS", [OTHER_ORIGIN])
    assert key.rate_limit_per_minute is None  # emptied: back to the default
    assert key.prefix == survey.key  # the snippet on the sites stays valid
    assert await preflight(OTHER_ORIGIN) == OTHER_ORIGIN
    assert await preflight(ORIGIN) is None
    assert "Survey saved." in (await client.get(done.headers["location"])).text

    # Unticking "Active" turns the widget off: no origin of it passes a preflight any more.
    off = edit_form(csrf, survey, allowed_origins=OTHER_ORIGIN, active=None)
    assert (await client.post(f"/admin/surveys/{survey.id}", data=off)).status_code == 303
    assert [s.active for s, _k, _s in stored(db)] == [False]
    assert await preflight(OTHER_ORIGIN) is None
    page = (await client.get("/admin/surveys")).text
    assert '<span class="status status-disabled">inactive</span>' in page


async def test_a_refused_new_survey_keeps_the_input(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.admin)
    form = new_survey_form(
        csrf, name=HOSTILE, question_en="  ", question_pt="Como foi?",
        allowed_origins="https://ok.example.com\nftp://files.example.com", rate_limit="fast",
    )  # fmt: skip
    refused = await client.post("/admin/surveys", data=form)
    assert refused.status_code == 422
    page = refused.text
    assert "The survey was not created:" in page
    assert "Question (English): give the question in English" in page
    ftp = "&#39;ftp://files.example.com&#39;"
    assert f"Allowed origins: an origin is http(s)://host[:port] (got {ftp})" in page
    assert "Rate limit: give 1 to 1,000,000 responses a minute" in page
    assert 'aria-invalid="true" aria-describedby="error-question_en"' in page
    # Everything typed comes back, escaped.
    assert field_value(page, "name") == ESCAPED
    assert field_value(page, "question_pt") == "Como foi?"
    assert field_value(page, "rate_limit") == "fast"
    assert ">https://ok.example.com\nftp://files.example.com</textarea>" in page
    assert '<option value="csat" selected>' in page
    assert 'name="allow_without_origin" value="true" checked' in page
    assert HOSTILE not in page
    assert stored(db) == []

    no_origins = await client.post("/admin/surveys", data=new_survey_form(csrf, allowed_origins=""))
    assert no_origins.status_code == 422
    assert "Allowed origins: give at least one origin" in no_origins.text
    bad_type = await client.post("/admin/surveys", data=new_survey_form(csrf, type="stars"))
    assert bad_type.status_code == 422 and "Type: choose NPS, CSAT, CES or thumbs" in bad_type.text
    assert stored(db) == []


async def test_a_refused_edit_keeps_the_input_and_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    survey = make_survey(db)
    csrf = await sign_in(client, db.engine, Role.admin)
    changes = edit_form(
        csrf, survey, name="", question_es="Otra", allowed_origins="", rate_limit="0"
    )
    refused = await client.post(f"/admin/surveys/{survey.id}", data=changes)
    assert refused.status_code == 422
    page = refused.text
    assert "The survey was not saved:" in page
    for reason in ("Name: give the survey a name", "Allowed origins: give at least one origin",
                   "Rate limit: give 1 to 1,000,000"):  # fmt: skip
        assert reason in page, reason
    assert field_value(page, "question_es") == "Otra"
    assert field_value(page, "rate_limit") == "0"
    [(saved, key, _source)] = stored(db)
    assert saved.name == "Checkout NPS" and saved.question["es"] == "¿Nos recomendarías?"
    assert key.allowed_origins == [ORIGIN]


async def test_hostile_texts_are_escaped(client: httpx.AsyncClient, db: Database) -> None:
    survey = make_survey(db, name=HOSTILE, question={"en": HOSTILE, "pt": f"</textarea>{HOSTILE}"})
    await sign_in(client, db.engine, Role.admin)
    for path in ("/admin/surveys", f"/admin/surveys/{survey.id}"):
        page = (await client.get(path)).text
        assert HOSTILE not in page and "<img" not in page, path
        assert ESCAPED in page
    listed = (await client.get("/admin/surveys")).text
    assert f'<h2 id="survey-{survey.id}-name">{ESCAPED}</h2>' in listed
    assert f'<td lang="en">{ESCAPED}</td>' in listed
    assert f'<td lang="pt">&lt;/textarea&gt;{ESCAPED}</td>' in listed


async def test_posts_without_the_csrf_token_are_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    survey = make_survey(db)
    csrf = await sign_in(client, db.engine, Role.admin)
    for token in ("", "not-the-token"):
        created = await client.post("/admin/surveys", data=new_survey_form(token))
        assert created.status_code == 403
        assert "did not come from this site" in created.json()["error"]["message"]
        edit = edit_form(token, survey, name="Hijacked", allowed_origins="https://evil.example")
        edited = await client.post(f"/admin/surveys/{survey.id}", data=edit)
        assert edited.status_code == 403
    assert csrf
    [(saved, key, _source)] = stored(db)
    assert saved.name == "Checkout NPS" and key.allowed_origins == [ORIGIN]


async def test_an_unknown_survey_is_404(client: httpx.AsyncClient, db: Database) -> None:
    csrf = await sign_in(client, db.engine, Role.admin)
    assert (await client.get("/admin/surveys/999")).status_code == 404
    missing = await client.post("/admin/surveys/999", data={"csrf_token": csrf, "name": "x"})
    assert missing.status_code == 404
