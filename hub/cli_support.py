"""What every `feedback-hub` command shares: the consoles, the database, errors, summaries."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
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
