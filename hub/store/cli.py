"""`feedback-hub db`: schema migrations."""

from typing import Annotated

import typer

from hub.cli_support import console, database
from hub.store.migrate import downgrade, upgrade

db_app = typer.Typer(help="Database schema migrations.")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply schema migrations (the default: all of them)."""
    with database(migrate=False) as engine:
        upgrade(engine, revision)
    console.print(f"database at revision {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="e.g. -1, or base")]) -> None:
    """Revert schema migrations down to REVISION."""
    with database(migrate=False) as engine:
        downgrade(engine, revision)
    console.print(f"database at revision {revision}")
