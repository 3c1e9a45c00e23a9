"""The ``feedback-hub`` command line. Each slice keeps its commands in ``hub/<slice>/cli.py``;
this root registers them and holds the process commands: serve, worker, demo."""

import os
from multiprocessing.process import BaseProcess
from typing import Annotated

import typer

from hub.auth.cli import keys_app
from hub.cli_support import console, database, fail, print_summary
from hub.config import get_settings
from hub.demo.loader import DEMO_USER, load_demo, reset_demo_user
from hub.enrichment.cli import nlp_app
from hub.errors import HubError
from hub.feedback.cli import import_
from hub.lifecycle import exit_on_sigterm
from hub.macros.service import ensure_default_macros
from hub.metrics.cli import metrics_app
from hub.observability.cli import worker_health
from hub.routing.defaults import ensure_default_rules
from hub.sources.cli import collect, sources_app
from hub.store.cli import db_app
from hub.store.engine import session_scope
from hub.surveys.cli import surveys_app
from hub.topics.cli import topics_app
from hub.topics.service import seed_topics
from hub.users.cli import users_app

WORKER_STOP_SECONDS = 30  # how long `serve` waits for its worker to finish a batch on exit

app = typer.Typer(help="Feedback Hub: collect, understand and act on customer feedback.")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(nlp_app, name="nlp")
app.add_typer(topics_app, name="topics")
app.add_typer(sources_app, name="sources")
app.add_typer(users_app, name="users")
app.add_typer(surveys_app, name="surveys")
app.add_typer(metrics_app, name="metrics")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [default: HUB_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: HUB_PORT]")] = None,
    workers: Annotated[int, typer.Option(help="API processes (PostgreSQL only for >1)")] = 1,
    demo: Annotated[bool, typer.Option(help="Load the demo data set first")] = False,
) -> None:
    """Migrate the database, then serve the API and web UI (and a worker, unless disabled)."""
    import uvicorn

    settings = get_settings()
    with database() as engine:
        with session_scope(engine) as session:
            seed_topics(session)
            ensure_default_rules(session)
            ensure_default_macros(session)
        if demo:
            print_summary("demo", load_demo(engine))
            if settings.env == "dev":  # a known sign-in for the demo, never in production
                password = reset_demo_user(engine)
                console.print(f"sign in as [bold]{DEMO_USER}[/bold] with password "
                              f"[bold]{password}[/bold] (new each start)")  # fmt: skip
    console.print(
        f"Feedback Hub on http://{host or settings.host}:{port or settings.port}  "
        f"(API docs: /docs, database: {engine.dialect.name})"
    )
    # uvicorn shuts down gracefully on SIGTERM, then raises it again: as SystemExit, so the
    # worker is stopped below (its batch finished) instead of outliving the server.
    exit_on_sigterm()
    worker = _start_worker_process() if settings.worker_in_serve else None
    try:
        uvicorn.run(
            "hub.app:create_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            log_level=settings.log_level,
            log_config=None,  # the app's lifespan configures logging (text or JSON)
            proxy_headers=False,  # the app trusts HUB_FORWARDED_ALLOW_IPS, not uvicorn's default
        )
    finally:
        if worker is not None:
            _stop_worker_process(worker)


def _start_worker_process() -> "BaseProcess":
    """The enrichment worker beside the API, in a process of its own (the API stays light);
    it ends with this process, however this one ends."""
    from multiprocessing import get_context

    from hub.enrichment.worker import run_as_child

    process = get_context("spawn").Process(
        target=run_as_child, args=(os.getpid(),), name="feedback-hub-worker", daemon=True
    )
    process.start()
    return process


def _stop_worker_process(worker: "BaseProcess") -> None:
    """SIGTERM (the worker finishes its batch and stops), then SIGKILL if it takes too long
    (its batch's lease then runs out and another worker takes the items)."""
    worker.terminate()
    worker.join(timeout=WORKER_STOP_SECONDS)
    if worker.is_alive():
        worker.kill()
        worker.join()


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Stop when nothing is pending")] = False,
    only: Annotated[
        str,
        typer.Option(
            help="Roles to run, comma-separated: nlp (enrichment), collect (collectors), "
            "notify (SLA alerts, outbox, prune)"
        ),
    ] = "nlp,collect,notify",
) -> None:
    """Run a worker: enrich pending feedback, pull the collectors, send notifications."""
    from hub.enrichment.worker import parse_roles, run_until_signalled

    try:
        roles = parse_roles(only)
    except HubError as exc:
        raise fail(exc) from None
    with database():
        pass  # migrate first, like every command that touches the schema
    run_until_signalled(once=once, roles=roles)


@app.command()
def prune(
    dry_run: Annotated[
        bool, typer.Option(help="Count what would be deleted; delete nothing")
    ] = False,
) -> None:
    """Delete rows past their HUB_RETAIN_…_DAYS: sent outbox, sign-in attempts, sessions, runs."""
    from hub.retention import prune as prune_rows

    with database() as engine:
        counts = prune_rows(engine, get_settings(), dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for what, count in counts.items():
        console.print(f"{verb} {count} {what}")


@app.command()
def demo() -> None:
    """Load the multilingual demo data set (idempotent)."""
    with database() as engine:
        with session_scope(engine) as session:
            seed_topics(session)
            ensure_default_rules(session)
            ensure_default_macros(session)
        print_summary("demo", load_demo(engine))


# Commands of other slices that sit at the top level.
app.command("import")(import_)
app.command()(collect)
app.command("worker-health")(worker_health)

if __name__ == "__main__":
    app()
