"""`feedback-hub import`: a JSONL or CSV file of feedback, with progress and a rejects file."""

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from hub.cli_support import database, err_console, fail, print_summary
from hub.errors import HubError
from hub.feedback.importer import count_records, import_file
from hub.lifecycle import exit_on_sigterm


def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    source: Annotated[str, typer.Option(help="Source for lines that name none")],
    chunk_size: Annotated[int, typer.Option(min=1, max=10_000)] = 1000,
) -> None:
    """Import a JSONL or CSV file of items; rejected lines go to FILE.rejected.*"""
    exit_on_sigterm()  # the chunk being written rolls back, the parsing process stops
    try:
        total = count_records(file)
        with Progress(
            TextColumn("[bold]importing[/bold] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
        ) as progress:
            task = progress.add_task(file.name, total=total)
            with database() as engine:
                report = import_file(
                    engine,
                    file,
                    source=source,
                    chunk_size=chunk_size,
                    on_progress=lambda n: progress.advance(task, n),
                    parallel=None,
                )
    except HubError as exc:
        raise fail(exc) from exc
    print_summary(file.name, report)
    if report.rejects_path:
        err_console.print(f"rejected lines and their reasons: {report.rejects_path}")
