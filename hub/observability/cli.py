"""``feedback-hub worker-health``: the worker container's healthcheck, from its heartbeat."""

import socket
from datetime import timedelta
from typing import Annotated

import typer

from hub.config import get_settings
from hub.observability.heartbeat import freshest_beat
from hub.store.engine import make_engine, session_scope
from hub.store.types import utcnow


def worker_health(
    max_age: Annotated[
        float, typer.Option(min=1, help="Seconds a heartbeat may be old and still count")
    ] = 60,
) -> None:
    """Exit 0 when a worker on this host beat within --max-age seconds, 1 otherwise."""
    hostname = socket.gethostname()
    engine = make_engine(get_settings().database_url, pool_size=1)
    try:
        with session_scope(engine) as session:
            beat_at = freshest_beat(session, hostname=hostname)
    except Exception as exc:
        typer.echo(f"unhealthy: the database did not answer ({type(exc).__name__})", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if beat_at is None:
        typer.echo(f"unhealthy: no worker heartbeat from {hostname}", err=True)
        raise typer.Exit(1)
    age = utcnow() - beat_at
    if age > timedelta(seconds=max_age):
        typer.echo(
            f"unhealthy: last heartbeat from {hostname} {age.total_seconds():.0f} s ago", err=True
        )
        raise typer.Exit(1)
    typer.echo(f"healthy: {hostname} beat {age.total_seconds():.0f} s ago")
