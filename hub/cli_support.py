"""What every `feedback-hub` command shares: the consoles, the database, errors, summaries."""

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from hub.config import get_settings
from hub.errors import HubError, InvalidInput
from hub.feedback.importer import ImportReport
from hub.feedback.models import IngestSummary
from hub.observability.logs import configure_logging
from hub.store.engine import make_engine
from hub.store.migrate import upgrade

console = Console()
err_console = Console(stderr=True)
M = TypeVar("M", bound=BaseModel)


@contextmanager
def database(*, migrate: bool = True) -> Iterator[Engine]:
    """The configured database, migrated to the newest schema; disposed afterwards."""
    settings = get_settings()
    configure_logging(level=settings.log_level, log_format=settings.log_format)
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    try:
        if migrate:
            upgrade(engine)
        yield engine
    finally:
        engine.dispose()


def fail(exc: HubError) -> typer.Exit:
    """Print the error; the caller raises the exit (code 2) it returns."""
    # soft_wrap: a long message (a file path) stays one line, whatever the terminal width
    err_console.print(f"[red]error:[/red] {exc.message}", soft_wrap=True)
    return typer.Exit(code=2)


def print_summary(what: str, counts: IngestSummary | ImportReport) -> None:
    """One line: created, duplicate, rejected."""
    console.print(
        f"{what}: [green]{counts.created} created[/green], "
        f"{counts.duplicate} duplicate, [red]{counts.rejected} rejected[/red]"
    )


def validated(model: Any, data: dict[str, Any]) -> Any:
    """``data`` as ``model``, or an exit that names every bad field."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise fail(InvalidInput(fields)) from exc


def print_rows(
    items: Sequence[M], *, as_json: bool, table: Table, row: Callable[[M], Sequence[str]]
) -> None:
    """A list command's output: one JSON array for scripts, or ``table`` filled by ``row``."""
    if as_json:
        typer.echo(json.dumps([item.model_dump(mode="json") for item in items]))
        return
    for item in items:
        table.add_row(*row(item))
    console.print(table)


def when(moment: datetime | None) -> str:
    """A time as list commands show it, "-" for none."""
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"
