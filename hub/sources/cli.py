"""`feedback-hub sources` (add, list, enable…) and `feedback-hub collect` (pull now)."""

import json
import os
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import Progress, TextColumn
from rich.table import Table
from sqlalchemy import Engine

from hub.cli_support import console, database, err_console, fail, print_rows, validated, when
from hub.config import get_settings
from hub.errors import HubError, InvalidInput
from hub.sources.models import DEFAULT_INTERVAL_SECONDS
from hub.sources.service import create_source, list_sources, update_source
from hub.store.engine import session_scope

if TYPE_CHECKING:
    from hub.sources.runner import RunReport

sources_app = typer.Typer(help="Sources of feedback: collectors pulled on a schedule, webhooks.")


def _parse_config(raw: str) -> dict[str, Any]:
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise fail(InvalidInput(f"--config is not valid JSON: {exc}")) from exc
    if not isinstance(config, dict):
        raise fail(InvalidInput("--config must be a JSON object"))
    return config


@sources_app.command("add")
def sources_add(
    kind: Annotated[str, typer.Option(help="Collector kind (see `sources kinds`)")],
    name: Annotated[str, typer.Option(help="A unique name for this source")],
    config: Annotated[str, typer.Option(help="The collector's config as a JSON object")] = "{}",
    interval: Annotated[
        int, typer.Option(min=60, help="Seconds between pulls (pulled sources)")
    ] = DEFAULT_INTERVAL_SECONDS,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it switched off")] = False,
) -> None:
    """Add a source (its config is checked against the collector's schema)."""
    from hub.sources.models import SourceCreate

    data = {"kind": kind, "name": name, "config": _parse_config(config),
            "interval_seconds": interval, "enabled": not disabled}  # fmt: skip
    try:
        with database() as engine, session_scope(engine) as session:
            created = create_source(session, data=validated(SourceCreate, data))
    except HubError as exc:
        raise fail(exc) from exc
    console.print(f"source {created.name} ({created.kind}) added, {created.status}")


@sources_app.command("list")
def sources_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every source with its status (secrets masked)."""
    with database() as engine, session_scope(engine) as session:
        sources = list_sources(session)
    table = Table("name", "kind", "status", "last run", "items", "next run", "last error")
    print_rows(sources, as_json=as_json, table=table, row=lambda source: (
        source.name, source.kind, source.status, when(source.last_run_at),
        str(source.last_run.created) if source.last_run else "-",
        when(source.next_run_at if source.collected else None), (source.last_error or "")[:60],
    ))  # fmt: skip


@sources_app.command("kinds")
def sources_kinds() -> None:
    """The installed collectors and their config fields."""
    from collectors.registry import is_inbound, registered

    table = Table("kind", "title", "how", "config (* required)")
    for kind, collector in registered().items():
        fields = [
            f"{name}{'*' if field.is_required() else ''}"
            for name, field in collector.Config.model_fields.items()
        ]
        how = "webhook" if is_inbound(collector) else "pulled"
        table.add_row(kind, collector.title, how, ", ".join(fields))
    console.print(table)


def _set_enabled(name: str, *, enabled: bool) -> None:
    from hub.sources.models import SourceUpdate

    try:
        with database() as engine, session_scope(engine) as session:
            source = update_source(session, name=name, changes=SourceUpdate(enabled=enabled))
    except HubError as exc:
        raise fail(exc) from exc
    console.print(f"source {source.name} {source.status}")


@sources_app.command("enable")
def sources_enable(name: Annotated[str, typer.Argument()]) -> None:
    """Switch a source on (a pulled one runs at the next scheduler tick)."""
    _set_enabled(name, enabled=True)


@sources_app.command("disable")
def sources_disable(name: Annotated[str, typer.Argument()]) -> None:
    """Switch a source off (pulls stop; webhook deliveries are refused with 403)."""
    _set_enabled(name, enabled=False)


def collect(
    name: Annotated[
        str | None, typer.Argument(help="One source [default: every enabled one]")
    ] = None,
) -> None:
    """Pull sources once now, with progress; exits 1 if any run failed."""
    from hub.sources.scheduler import pulled_source_names

    failed = False
    with database() as engine:
        names = [name] if name else pulled_source_names(engine)
        if not names:
            console.print("no enabled pulled source: add one with `feedback-hub sources add`")
        for source_name in names:
            report = _collect_one(engine, source_name)
            failed |= report.status == "failed"
            colour = {"ok": "green", "failed": "red"}.get(report.status, "yellow")
            error = f" — {report.error}" if report.error else ""
            console.print(
                f"{source_name}: [{colour}]{report.status}[/{colour}] — {report.pages} pages, "
                f"{report.created} created, {report.duplicate} duplicate, "
                f"{report.rejected} rejected{error}",
                highlight=False,
                soft_wrap=True,  # one line per source, even in a narrow pipe
            )
            if report.status == "busy":
                console.print("  another process is pulling it right now")
    if failed:
        raise typer.Exit(code=1)


def _collect_one(engine: Engine, name: str) -> "RunReport":
    """One run of a source, with a spinner counting pages and items."""
    import asyncio

    from rich.progress import SpinnerColumn

    from hub.sources.runner import run_source

    columns = (SpinnerColumn(), TextColumn("[bold]{task.description}[/bold] {task.fields[counts]}"))
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(name, total=None, counts="")

        def show(report: "RunReport") -> None:
            counts = f"{report.pages} pages, {report.created} new, {report.duplicate} seen"
            progress.update(task, counts=counts)

        run = run_source(
            engine, name=name, settings=get_settings(), owner=f"cli:{os.getpid()}", on_page=show
        )
        try:
            return asyncio.run(run)
        except HubError as exc:
            raise fail(exc) from exc
