"""`feedback-hub users`: people who sign in to the web UI."""

from typing import Annotated

import typer
from rich.table import Table

from hub.cli_support import console, database, fail, print_rows, validated, when
from hub.errors import HubError
from hub.store.engine import session_scope
from hub.users.models import Role, UserCreate
from hub.users.passwords import MIN_PASSWORD_CHARS
from hub.users.service import create_user, list_users

users_app = typer.Typer(help="People who sign in to the web UI, and their roles.")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Their sign-in email")],
    password: Annotated[
        str, typer.Option(help=f"At least {MIN_PASSWORD_CHARS} characters, hard to guess")
    ],
    role: Annotated[Role, typer.Option(help="admin, lead, agent or viewer")] = Role.agent,
    name: Annotated[str, typer.Option(help="Their name as pages show it")] = "",
) -> None:
    """Create a user (the first admin, say)."""
    data = validated(UserCreate, {"email": email, "password": password, "role": role, "name": name})
    try:
        with database() as engine, session_scope(engine) as session:
            user = create_user(session, data=data)
    except HubError as exc:
        raise fail(exc) from exc
    console.print(f"user {user.id} {user.email} ({user.role.value}) created")


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every user with role, teams and last sign-in."""
    with database() as engine, session_scope(engine) as session:
        users = list_users(session)
    table = Table("id", "email", "name", "role", "teams", "active", "last sign-in")
    print_rows(users, as_json=as_json, table=table, row=lambda user: (
        str(user.id), user.email, user.name, user.role.value, ", ".join(user.teams),
        "yes" if user.active else "no", when(user.last_login_at),
    ))  # fmt: skip
