"""`feedback-hub keys`: API keys for machines."""

import json
from typing import Annotated

import typer
from rich.table import Table

from hub.auth.models import Scope
from hub.auth.service import create_key, list_keys, revoke_key
from hub.cli_support import console, database, fail, print_rows, when
from hub.errors import HubError
from hub.store.engine import session_scope

keys_app = typer.Typer(help="API keys for machines (widgets, collectors, scripts).")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="What the key is for")],
    scope: Annotated[list[Scope], typer.Option(help="ingest, read or admin; repeatable")],
    as_json: Annotated[bool, typer.Option("--json", help="Print {id, key} as JSON")] = False,
) -> None:
    """Create an API key; its secret is printed once."""
    try:
        with database() as engine, session_scope(engine) as session:
            created = create_key(session, name=name, scopes=[s.value for s in scope])
    except HubError as exc:
        raise fail(exc) from exc
    if as_json:
        typer.echo(json.dumps({"id": created.id, "key": created.key}))
        return
    console.print(f"key {created.id} ({', '.join(created.scopes)}) — shown once, store it now:")
    typer.echo(created.key)


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List API keys (never their secrets)."""
    with database() as engine, session_scope(engine) as session:
        keys = list_keys(session)
    table = Table("id", "name", "prefix", "scopes", "created", "last used", "revoked")
    print_rows(keys, as_json=as_json, table=table, row=lambda key: (
        str(key.id), key.name, key.prefix, ", ".join(key.scopes),
        when(key.created_at), when(key.last_used_at), when(key.revoked_at),
    ))  # fmt: skip


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="The key's id")]) -> None:
    """Revoke an API key at once."""
    try:
        with database() as engine, session_scope(engine) as session:
            key = revoke_key(session, key_id=key_id)
    except HubError as exc:
        raise fail(exc) from exc
    console.print(f"key {key.id} ({key.name}) revoked")
