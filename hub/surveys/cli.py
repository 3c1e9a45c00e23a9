"""`feedback-hub surveys`: surveys for the embeddable widget."""

import json
from typing import Annotated

import typer
from rich.table import Table

from hub.cli_support import console, database, fail, print_rows, validated
from hub.config import get_settings
from hub.errors import HubError
from hub.store.engine import session_scope
from hub.surveys.models import SurveyCreate, SurveyType
from hub.surveys.service import create_survey, list_surveys

surveys_app = typer.Typer(help="Surveys for the embeddable widget, and their public keys.")


def _hub_url() -> str:
    settings = get_settings()
    return settings.public_url or f"http://{settings.host}:{settings.port}"


def _texts(en: str | None, es: str | None, pt: str | None) -> dict[str, str] | None:
    texts = {lang: text for lang, text in (("en", en), ("es", es), ("pt", pt)) if text}
    return texts or None


@surveys_app.command("create")
def surveys_create(
    type_: Annotated[SurveyType, typer.Option("--type", help="nps, csat, ces or thumbs")],
    question: Annotated[str, typer.Option(help="The question, in English")],
    origin: Annotated[
        list[str], typer.Option(help="A site allowed to embed it, e.g. https://shop.example.com")
    ],
    name: Annotated[str, typer.Option(help="What the survey is for")] = "",
    question_es: Annotated[str | None, typer.Option(help="The question in Spanish")] = None,
    question_pt: Annotated[str | None, typer.Option(help="The question in Portuguese")] = None,
    follow_up: Annotated[str | None, typer.Option(help="The comment prompt, in English")] = None,
    follow_up_es: Annotated[str | None, typer.Option(help="The comment prompt in Spanish")] = None,
    follow_up_pt: Annotated[str | None, typer.Option(help="The comment prompt, Portuguese")] = None,
    rate_limit: Annotated[
        int | None, typer.Option(help="Responses a minute per visitor IP (default the HUB_ one)")
    ] = None,
    allow_without_origin: Annotated[
        bool, typer.Option(help="Also accept posts without an Origin header (servers)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print {id, key} as JSON")] = False,
) -> None:
    """Create a survey and its public widget key; prints the snippet to embed."""
    data = validated(
        SurveyCreate,
        {
            "name": name,
            "type": type_,
            "question": _texts(question, question_es, question_pt),
            "follow_up": _texts(follow_up, follow_up_es, follow_up_pt),
            "allowed_origins": origin,
            "rate_limit_per_minute": rate_limit,
            "allow_without_origin": allow_without_origin,
        },
    )
    try:
        with database() as engine, session_scope(engine) as session:
            survey = create_survey(session, data=data, hub_url=_hub_url())
    except HubError as exc:
        raise fail(exc) from exc
    if as_json:
        typer.echo(json.dumps({"id": survey.id, "key": survey.key}))
        return
    console.print(f"survey {survey.id} ({survey.type.value}) created; embed it with:")
    typer.echo(survey.snippet)


@surveys_app.command("list")
def surveys_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every survey with its public key and allowed origins."""
    with database() as engine, session_scope(engine) as session:
        surveys = list_surveys(session, hub_url=_hub_url())
    table = Table("id", "name", "type", "origins", "active")
    # The key stays whole (copyable) however narrow the terminal.
    table.add_column("key", no_wrap=True, min_width=27)
    print_rows(surveys, as_json=as_json, table=table, row=lambda survey: (
        str(survey.id), survey.name, survey.type.value, ", ".join(survey.allowed_origins),
        "yes" if survey.active and not survey.key_revoked else "no", survey.key,
    ))  # fmt: skip
