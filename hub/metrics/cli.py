"""`feedback-hub metrics`: the rollup tables behind metrics and trends."""

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from hub.cli_support import console, database, err_console
from hub.store.engine import session_scope

metrics_app = typer.Typer(help="Metrics and topic trends (their rollup tables).")


@metrics_app.command("rebuild")
def metrics_rebuild(
    chunk_days: Annotated[int, typer.Option(min=1, help="Days of feedback per step")] = 31,
) -> None:
    """Recompute the rollup tables from all feedback (after an upgrade or a repair)."""
    from hub.metrics.service import rebuild

    columns = (TextColumn("[bold]rolling up[/bold]"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())  # fmt: skip
    with (
        database() as engine,
        session_scope(engine) as session,
        Progress(*columns, console=err_console) as progress,
    ):
        task = progress.add_task("feedback", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        rows = rebuild(session, chunk_days=chunk_days, progress=advance)
    console.print(f"rollups rebuilt: {rows} feedback rollup rows")
