"""The ``feedback-hub`` command line: serve, worker, collect, sources, db, import, keys, nlp."""

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import Engine

from hub.auth.models import Scope
from hub.auth.service import create_key, list_keys, revoke_key
from hub.config import get_settings
from hub.demo.loader import DEMO_USER, load_demo, reset_demo_user
from hub.errors import HubError, InvalidInput
from hub.feedback.importer import ImportReport, count_records, import_file
from hub.feedback.models import IngestSummary
from hub.routing.service import ensure_default_rules
from hub.sources.models import DEFAULT_INTERVAL_SECONDS
from hub.sources.service import create_source, list_sources, update_source
from hub.store.engine import make_engine, session_scope
from hub.store.migrate import downgrade, upgrade
from hub.surveys.models import SurveyCreate, SurveyType
from hub.surveys.service import create_survey, list_surveys
from hub.topics.curation import merge_topics
from hub.topics.service import seed_topics
from hub.users.models import MIN_PASSWORD_CHARS, Role, UserCreate
from hub.users.service import create_user, list_users

if TYPE_CHECKING:
    from hub.sources.runner import RunReport
    from nlp.embedding import Embedder

app = typer.Typer(help="Feedback Hub: collect, understand and act on customer feedback.")
db_app = typer.Typer(help="Database schema migrations.")
keys_app = typer.Typer(help="API keys for machines (widgets, collectors, scripts).")
nlp_app = typer.Typer(help="Language, sentiment and topics of feedback.")
topics_app = typer.Typer(help="The topic taxonomy.")
sources_app = typer.Typer(help="Sources of feedback: collectors pulled on a schedule, webhooks.")
users_app = typer.Typer(help="People who sign in to the web UI, and their roles.")
surveys_app = typer.Typer(help="Surveys for the embeddable widget, and their public keys.")
metrics_app = typer.Typer(help="Metrics and topic trends (their rollup tables).")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(nlp_app, name="nlp")
app.add_typer(topics_app, name="topics")
app.add_typer(sources_app, name="sources")
app.add_typer(users_app, name="users")
app.add_typer(surveys_app, name="surveys")
app.add_typer(metrics_app, name="metrics")
console = Console()
err_console = Console(stderr=True)


@contextmanager
def _database(*, migrate: bool = True) -> Iterator[Engine]:
    """The configured database, migrated to the newest schema; disposed afterwards."""
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.log_level != "debug":  # one line per migration step is noise on every command
        logging.getLogger("alembic").setLevel(logging.WARNING)
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    try:
        if migrate:
            upgrade(engine)
        yield engine
    finally:
        engine.dispose()


def _fail(exc: HubError) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {exc.message}")
    return typer.Exit(code=2)


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
    with _database() as engine:
        with session_scope(engine) as session:
            seed_topics(session)
            ensure_default_rules(session)
        if demo:
            _print_summary("demo", load_demo(engine))
            if settings.env == "dev":  # a known sign-in for the demo, never in production
                password = reset_demo_user(engine)
                console.print(f"sign in as [bold]{DEMO_USER}[/bold] with password "
                              f"[bold]{password}[/bold] (new each start)")  # fmt: skip
    console.print(
        f"Feedback Hub on http://{host or settings.host}:{port or settings.port}  "
        f"(API docs: /docs, database: {engine.dialect.name})"
    )
    worker = _start_worker_process() if settings.worker_in_serve else None
    try:
        uvicorn.run(
            "hub.app:create_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            log_level=settings.log_level,
        )
    finally:
        if worker is not None:
            worker.terminate()
            worker.join(timeout=30)


def _start_worker_process() -> "BaseProcess":
    """The enrichment worker beside the API, in a process of its own (the API stays light)."""
    from multiprocessing import get_context

    from hub.enrichment.worker import run_until_signalled

    process = get_context("spawn").Process(
        target=run_until_signalled, name="feedback-hub-worker", daemon=True
    )
    process.start()
    return process


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
        raise _fail(exc) from None
    with _database():
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

    with _database() as engine:
        counts = prune_rows(engine, get_settings(), dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for what, count in counts.items():
        console.print(f"{verb} {count} {what}")


@nlp_app.command("reprocess")
def nlp_reprocess(
    since: Annotated[
        datetime | None, typer.Option(help="Only feedback created at or after (UTC)")
    ] = None,
    run: Annotated[
        bool,
        typer.Option(help="Re-score here, with a progress bar (--no-run: leave it to workers)"),
    ] = True,
) -> None:
    """Re-score stored feedback after a model change (language, sentiment, topics)."""
    from hub.enrichment.pipeline import PipelineLoader
    from hub.enrichment.service import pending_count, reprocess
    from hub.enrichment.worker import Worker

    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    with _database() as engine:
        with session_scope(engine) as session:
            count = reprocess(session, since=since)
        console.print(f"{count} items queued for enrichment")
        if not run or not count:
            return
        settings = get_settings()
        worker = Worker(engine, settings, PipelineLoader(settings))
        with Progress(
            TextColumn("[bold]re-scoring[/bold]"), BarColumn(), MofNCompleteColumn(),
            TimeRemainingColumn(), console=err_console,
        ) as progress:  # fmt: skip
            task = progress.add_task("reprocess", total=count)
            while worker.run_once():
                with session_scope(engine) as session:
                    progress.update(task, completed=count - pending_count(session))
        console.print(f"{count} items re-scored")


@metrics_app.command("rebuild")
def metrics_rebuild(
    chunk_days: Annotated[int, typer.Option(min=1, help="Days of feedback per step")] = 31,
) -> None:
    """Recompute the rollup tables from all feedback (after an upgrade or a repair)."""
    from hub.metrics.service import rebuild

    columns = (TextColumn("[bold]rolling up[/bold]"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())  # fmt: skip
    with (
        _database() as engine,
        session_scope(engine) as session,
        Progress(*columns, console=err_console) as progress,
    ):
        task = progress.add_task("feedback", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        rows = rebuild(session, chunk_days=chunk_days, progress=advance)
    console.print(f"rollups rebuilt: {rows} feedback rollup rows")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply schema migrations (the default: all of them)."""
    with _database(migrate=False) as engine:
        upgrade(engine, revision)
    console.print(f"database at revision {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="e.g. -1, or base")]) -> None:
    """Revert schema migrations down to REVISION."""
    with _database(migrate=False) as engine:
        downgrade(engine, revision)
    console.print(f"database at revision {revision}")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    source: Annotated[str, typer.Option(help="Source for lines that name none")],
    chunk_size: Annotated[int, typer.Option(min=1, max=10_000)] = 1000,
) -> None:
    """Import a JSONL or CSV file of items; rejected lines go to FILE.rejected.*"""
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
            with _database() as engine:
                report = import_file(
                    engine,
                    file,
                    source=source,
                    chunk_size=chunk_size,
                    on_progress=lambda n: progress.advance(task, n),
                    parallel=None,
                )
    except HubError as exc:
        raise _fail(exc) from exc
    _print_summary(file.name, report)
    if report.rejects_path:
        err_console.print(f"rejected lines and their reasons: {report.rejects_path}")


@app.command()
def demo() -> None:
    """Load the multilingual demo data set (idempotent)."""
    with _database() as engine:
        with session_scope(engine) as session:
            seed_topics(session)
            ensure_default_rules(session)
        _print_summary("demo", load_demo(engine))


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="What the key is for")],
    scope: Annotated[list[Scope], typer.Option(help="ingest, read or admin; repeatable")],
    as_json: Annotated[bool, typer.Option("--json", help="Print {id, key} as JSON")] = False,
) -> None:
    """Create an API key; its secret is printed once."""
    try:
        with _database() as engine, session_scope(engine) as session:
            created = create_key(session, name=name, scopes=[s.value for s in scope])
    except HubError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps({"id": created.id, "key": created.key}))
        return
    console.print(f"key {created.id} ({', '.join(created.scopes)}) — shown once, store it now:")
    typer.echo(created.key)


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List API keys (never their secrets)."""
    with _database() as engine, session_scope(engine) as session:
        keys = list_keys(session)
    if as_json:
        typer.echo(json.dumps([key.model_dump(mode="json") for key in keys]))
        return
    table = Table("id", "name", "prefix", "scopes", "created", "last used", "revoked")
    for key in keys:
        table.add_row(
            str(key.id),
            key.name,
            key.prefix,
            ", ".join(key.scopes),
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "-",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "-",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="The key's id")]) -> None:
    """Revoke an API key at once."""
    try:
        with _database() as engine, session_scope(engine) as session:
            key = revoke_key(session, key_id=key_id)
    except HubError as exc:
        raise _fail(exc) from exc
    console.print(f"key {key.id} ({key.name}) revoked")


def _print_summary(what: str, counts: IngestSummary | ImportReport) -> None:
    console.print(
        f"{what}: [green]{counts.created} created[/green], "
        f"{counts.duplicate} duplicate, [red]{counts.rejected} rejected[/red]"
    )


def _embedder() -> "Embedder":
    from hub.enrichment.pipeline import topic_embedder

    return topic_embedder(get_settings())


def _labelled(files: list[Path]) -> list[dict[str, Any]]:
    from nlp.sentiment import read_labelled

    try:
        return read_labelled(files)
    except ValueError as exc:
        raise _fail(InvalidInput(str(exc))) from exc


def _embedding_progress(total: int) -> Progress:
    return Progress(
        TextColumn("[bold]embedding[/bold]"), BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=err_console,
    )  # fmt: skip


@nlp_app.command("train-sentiment")
def nlp_train_sentiment(
    data: Annotated[
        list[Path],
        typer.Option(
            exists=True, dir_okay=False, help="JSONL {text, label, language?}; repeatable"
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Where to write the head [default: the one the worker loads]"),
    ] = None,
    with_corrections: Annotated[
        bool, typer.Option(help="Add feedback whose sentiment a person corrected")
    ] = False,
    l2: Annotated[float, typer.Option(min=0)] = 1e-3,
    val: Annotated[
        list[Path] | None,
        typer.Option(exists=True, dir_okay=False, help="JSONL scored per file into the card"),
    ] = None,
) -> None:
    """Train the sentiment head on the configured embedder; writes the head and a data card."""
    from hub.enrichment.sentiment import corrected_examples, train_head
    from nlp.sentiment import shipped_head

    records = _labelled(data)
    sources = [f"{path.name} ({len(path.read_text('utf-8').splitlines())} lines)" for path in data]
    if with_corrections:
        with _database() as engine, session_scope(engine) as session:
            corrections = corrected_examples(session)
        records += corrections
        sources.append(f"people's corrections ({len(corrections)})")
    embedder = _embedder()
    target = out or shipped_head(embedder.name)
    held = {path.stem: _labelled([path]) for path in val or []}
    total = len(records) + sum(len(rows) for rows in held.values())
    with _embedding_progress(total) as progress:
        task = progress.add_task("train", total=total)
        card = train_head(embedder, records, out=target, sources=sources, l2=l2, val=held,
                          progress=lambda n: progress.advance(task, n))  # fmt: skip
    console.print(
        f"sentiment head for {embedder.name} written to {target} ({card['examples']} examples)"
    )
    for name, f1 in card["val_macro_f1"].items():
        console.print(f"  {name}: macro-F1 {f1:.1f}")


@nlp_app.command("fine-tune-sentiment")
def nlp_fine_tune_sentiment(
    data: Annotated[
        list[Path],
        typer.Option(exists=True, dir_okay=False, help="JSONL {text, label}; repeatable"),
    ],
    val: Annotated[
        list[Path] | None,
        typer.Option(
            exists=True, dir_okay=False, help="JSONL to select on; scored per file; repeatable"
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Model directory [default: sentiment-model in HUB_MODEL_CACHE]"),
    ] = None,
    with_corrections: Annotated[
        bool, typer.Option(help="Add feedback whose sentiment a person corrected")
    ] = False,
    method: Annotated[str, typer.Option(help="full (all layers) or lora")] = "full",
    epochs: Annotated[int, typer.Option(min=1)] = 3,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    seed: Annotated[int, typer.Option()] = 13,
    seeds: Annotated[
        int,
        typer.Option(min=1, help="full: runs from seed, seed+1…, averaged if that scores better"),
    ] = 1,
    save_rank: Annotated[
        int, typer.Option(min=0, help="full: store weight changes at this rank (0: whole)")
    ] = 64,
    device: Annotated[str | None, typer.Option(help="cpu, cuda [default: HUB_NLP_DEVICE]")] = None,
) -> None:
    """Fine-tune multilingual-e5-small for sentiment; resumes an interrupted run in --out."""
    from hub.enrichment.finetune import examples, fine_tune_sentiment
    from hub.enrichment.sentiment import corrected_examples
    from nlp.embedding import model_cache_dir
    from nlp.finetune import FineTuneConfig

    try:
        config = FineTuneConfig(method=method, epochs=epochs, batch_size=batch_size, seed=seed)  # type: ignore[arg-type]
    except ValueError as exc:
        raise _fail(InvalidInput(str(exc))) from exc
    train = [example for path in data for example in examples(_labelled([path]), path.stem)]
    held = [example for path in val or [] for example in examples(_labelled([path]), path.stem)]
    sources = [
        f"{path.name} ({sum(1 for e in train if e.group == path.stem)} examples)" for path in data
    ]
    if with_corrections:
        with _database() as engine, session_scope(engine) as session:
            corrections = corrected_examples(session)
        train += examples(corrections, "corrections")
        sources.append(f"people's corrections ({len(corrections)})")
    settings = get_settings()
    target = out or model_cache_dir() / "sentiment-model"
    with Progress(
        TextColumn("[bold]{task.description}[/bold]"), BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=err_console,
    ) as progress:  # fmt: skip
        task = progress.add_task("fine-tuning", total=None)

        def report(phase: str, done: int, total: int) -> None:
            progress.update(task, description=phase, completed=done, total=total)

        try:
            card = fine_tune_sentiment(
                train, held, out=target, config=config, sources=sources, seeds=seeds,
                save_rank=save_rank, device=device or settings.nlp_device,
                threads=settings.nlp_threads, report=report,
            )  # fmt: skip
        except ValueError as exc:
            raise _fail(InvalidInput(str(exc))) from exc
    served = card["served"]
    console.print(f"sentiment model written to {target} ({card['examples']} examples)")
    if served.get("groups"):
        scores = ", ".join(f"{group} {f1:.1f}" for group, f1 in served["groups"].items())
        console.print(f"as served, on val: macro-F1 {scores}")
    console.print(f"use it with HUB_SENTIMENT_MODEL={target}")


@nlp_app.command("eval")
def nlp_eval(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False)],
    model: Annotated[
        str | None,
        typer.Option(help="default, frozen-head, a model directory or HF id [HUB_SENTIMENT_MODEL]"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Accuracy and macro-F1 of the sentiment model per labelled JSONL file, and its speed."""
    from hub.enrichment.pipeline import load_models
    from hub.enrichment.sentiment import evaluate_model

    held = {path.stem: _labelled([path]) for path in files}
    settings = get_settings()
    if model is not None:
        settings = settings.model_copy(update={"sentiment_model": model})
    try:
        embedder, sentiment = load_models(settings)
    except ValueError as exc:
        raise _fail(InvalidInput(str(exc))) from exc
    if sentiment is None:
        raise _fail(InvalidInput(f"no sentiment model ({settings.sentiment_model}): see the log"))
    total = sum(len(rows) for rows in held.values())
    with _embedding_progress(total) as progress:
        task = progress.add_task("eval", total=total)
        report = evaluate_model(
            embedder, sentiment, held, progress=lambda n: progress.advance(task, n)
        )
    report["model"] = sentiment.name
    if as_json:
        typer.echo(json.dumps(report))
        return
    table = Table("file", "n", "accuracy", "macro-F1", title=f"{sentiment.name}")
    for name, scores in [*report["files"].items(), *report["by_language"].items()]:
        table.add_row(
            name, str(scores["n"]), f"{scores['accuracy']:.3f}", f"{scores['macro_f1']:.3f}"
        )
    console.print(table)
    console.print(f"{report['texts_per_second']:.1f} texts/s (embedding + classification)")


@nlp_app.command("eval-language")
def nlp_eval_language(
    files: Annotated[
        list[Path],
        typer.Argument(exists=True, dir_okay=False, help="JSONL {text, language}"),
    ],
    min_chars: Annotated[int, typer.Option(min=0, help="Only texts at least this long")] = 40,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Accuracy of language identification per language on labelled JSONL files."""
    from nlp.language import LinguaDetector, evaluate_language, read_language_records

    try:
        records = read_language_records(files, min_chars=min_chars)
    except ValueError as exc:
        raise _fail(InvalidInput(str(exc))) from exc
    detector = LinguaDetector(get_settings().language_codes)
    report = evaluate_language(detector, records)
    if as_json:
        typer.echo(json.dumps({"detector": detector.name, "by_language": report}))
        return
    table = Table("language", "n", "accuracy", "unknown", title=escape(detector.name))
    for name, scores in report.items():
        accuracy = f"{scores['accuracy']:.2%}"
        table.add_row(name, str(scores["n"]), accuracy, str(scores["unknown"]))
    console.print(table)


@nlp_app.command("eval-topics")
def nlp_eval_topics(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="JSONL {text, label(s)}")
    ],
    train: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="Where examples come from")
    ],
    shots: Annotated[int, typer.Option(min=1, help="Examples per topic taken from --train")] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Topic assignment on labelled data, with K examples per topic from a train file."""
    from hub.enrichment.topic_eval import evaluate_topics, read_topic_labels

    try:
        test_records, train_records = read_topic_labels(file), read_topic_labels(train)
    except HubError as exc:
        raise _fail(exc) from exc
    embedder = _embedder()
    with _embedding_progress(len(test_records)) as progress:
        task = progress.add_task("eval", total=len(test_records))
        report = evaluate_topics(
            embedder, test_records, train_records, shots=shots,
            progress=lambda n: progress.advance(task, n),
        )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(report))
        return
    console.print(
        f"{report['n']} items, {report['topics']} topics, {shots} shots ({embedder.name}): "
        f"top-1 accuracy {report['top1_accuracy']:.3f}, micro-F1 {report['micro_f1']:.3f}"
    )


@topics_app.command("discover")
def topics_discover(
    days: Annotated[int, typer.Option(min=1, help="Look at feedback of the last DAYS")] = 30,
    min_size: Annotated[int, typer.Option(min=2, help="Smallest group worth a topic")] = 4,
) -> None:
    """Suggest topics from recent feedback that fits none (stored inactive, to review)."""
    from hub.topics.discovery import discover_topics

    embedder = _embedder()
    with _database() as engine, session_scope(engine) as session:
        suggested = discover_topics(session, embedder=embedder, days=days, min_size=min_size)
    if not suggested:
        console.print("no group of unplaced feedback is large enough to suggest a topic")
    for topic in suggested:
        console.print(f"[bold]{topic.key}[/bold]  {topic.name}  ({topic.description})")
        for example in topic.examples["discovered"][:3]:
            console.print(f"    “{example[:100]}”", markup=False)


@topics_app.command("merge")
def topics_merge(
    key: Annotated[str, typer.Argument(help="The topic that goes")],
    into: Annotated[str, typer.Option(help="The topic that stays and takes everything of KEY")],
) -> None:
    """Merge a topic into another: its items, examples, subtopics and rules move, it is deleted."""
    try:
        with _database() as engine, session_scope(engine) as session:
            merged = merge_topics(session, key=key, into=into)
    except HubError as exc:
        raise _fail(exc) from exc
    rules = f"; rules now naming it: {', '.join(merged.rules)}" if merged.rules else ""
    console.print(f"merged {key} into {merged.topic.key}: {merged.moved} items moved{rules}")


def _parse_config(raw: str) -> dict[str, Any]:
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _fail(InvalidInput(f"--config is not valid JSON: {exc}")) from exc
    if not isinstance(config, dict):
        raise _fail(InvalidInput("--config must be a JSON object"))
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
        with _database() as engine, session_scope(engine) as session:
            created = create_source(session, data=_validated(SourceCreate, data))
    except HubError as exc:
        raise _fail(exc) from exc
    console.print(f"source {created.name} ({created.kind}) added, {created.status}")


def _validated(model: Any, data: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise _fail(InvalidInput(fields)) from exc


@sources_app.command("list")
def sources_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every source with its status (secrets masked)."""
    with _database() as engine, session_scope(engine) as session:
        sources = list_sources(session)
    if as_json:
        typer.echo(json.dumps([source.model_dump(mode="json") for source in sources]))
        return
    table = Table("name", "kind", "status", "last run", "items", "next run", "last error")
    for source in sources:
        last = source.last_run
        table.add_row(
            source.name, source.kind, source.status,
            f"{source.last_run_at:%Y-%m-%d %H:%M}" if source.last_run_at else "-",
            str(last.created) if last else "-",
            f"{source.next_run_at:%Y-%m-%d %H:%M}" if source.next_run_at and source.collected
            else "-",
            (source.last_error or "")[:60],
        )  # fmt: skip
    console.print(table)


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
        with _database() as engine, session_scope(engine) as session:
            source = update_source(session, name=name, changes=SourceUpdate(enabled=enabled))
    except HubError as exc:
        raise _fail(exc) from exc
    console.print(f"source {source.name} {source.status}")


@sources_app.command("enable")
def sources_enable(name: Annotated[str, typer.Argument()]) -> None:
    """Switch a source on (a pulled one runs at the next scheduler tick)."""
    _set_enabled(name, enabled=True)


@sources_app.command("disable")
def sources_disable(name: Annotated[str, typer.Argument()]) -> None:
    """Switch a source off (pulls stop; webhook deliveries are refused with 403)."""
    _set_enabled(name, enabled=False)


@app.command()
def collect(
    name: Annotated[
        str | None, typer.Argument(help="One source [default: every enabled one]")
    ] = None,
) -> None:
    """Pull sources once now, with progress; exits 1 if any run failed."""
    from hub.sources.scheduler import pulled_source_names

    failed = False
    with _database() as engine:
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
            raise _fail(exc) from exc


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Their sign-in email")],
    password: Annotated[str, typer.Option(help=f"At least {MIN_PASSWORD_CHARS} characters")],
    role: Annotated[Role, typer.Option(help="admin, lead, agent or viewer")] = Role.agent,
    name: Annotated[str, typer.Option(help="Their name as pages show it")] = "",
) -> None:
    """Create a user (the first admin, say)."""
    data = _validated(
        UserCreate, {"email": email, "password": password, "role": role, "name": name}
    )
    try:
        with _database() as engine, session_scope(engine) as session:
            user = create_user(session, data=data)
    except HubError as exc:
        raise _fail(exc) from exc
    console.print(f"user {user.id} {user.email} ({user.role.value}) created")


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every user with role, teams and last sign-in."""
    with _database() as engine, session_scope(engine) as session:
        users = list_users(session)
    if as_json:
        typer.echo(json.dumps([user.model_dump(mode="json") for user in users]))
        return
    table = Table("id", "email", "name", "role", "teams", "active", "last sign-in")
    for user in users:
        last = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "-"
        table.add_row(str(user.id), user.email, user.name, user.role.value,
                      ", ".join(user.teams), "yes" if user.active else "no", last)  # fmt: skip
    console.print(table)


def _hub_url() -> str:
    settings = get_settings()
    return settings.public_url or f"http://{settings.host}:{settings.port}"


def _texts(en: str | None, es: str | None, pt: str | None) -> dict[str, str] | None:
    texts = {lang: text for lang, text in (("en", en), ("es", es), ("pt", pt)) if text}
    return texts or None


@surveys_app.command("create")
def surveys_create(
    type_: Annotated[SurveyType, typer.Option("--type", help="nps, csat, ces or thumbs")],
    question: Annotated[str, typer.Option(help="The question, in English")],
    origin: Annotated[
        list[str], typer.Option(help="A site allowed to embed it, e.g. https://shop.example.com")
    ],
    name: Annotated[str, typer.Option(help="What the survey is for")] = "",
    question_es: Annotated[str | None, typer.Option(help="The question in Spanish")] = None,
    question_pt: Annotated[str | None, typer.Option(help="The question in Portuguese")] = None,
    follow_up: Annotated[str | None, typer.Option(help="The comment prompt, in English")] = None,
    follow_up_es: Annotated[str | None, typer.Option(help="The comment prompt in Spanish")] = None,
    follow_up_pt: Annotated[str | None, typer.Option(help="The comment prompt, Portuguese")] = None,
    rate_limit: Annotated[
        int | None, typer.Option(help="Responses a minute per visitor IP (default the HUB_ one)")
    ] = None,
    allow_without_origin: Annotated[
        bool, typer.Option(help="Also accept posts without an Origin header (servers)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print {id, key} as JSON")] = False,
) -> None:
    """Create a survey and its public widget key; prints the snippet to embed."""
    data = _validated(
        SurveyCreate,
        {
            "name": name,
            "type": type_,
            "question": _texts(question, question_es, question_pt),
            "follow_up": _texts(follow_up, follow_up_es, follow_up_pt),
            "allowed_origins": origin,
            "rate_limit_per_minute": rate_limit,
            "allow_without_origin": allow_without_origin,
        },
    )
    try:
        with _database() as engine, session_scope(engine) as session:
            survey = create_survey(session, data=data, hub_url=_hub_url())
    except HubError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps({"id": survey.id, "key": survey.key}))
        return
    console.print(f"survey {survey.id} ({survey.type.value}) created; embed it with:")
    typer.echo(survey.snippet)


@surveys_app.command("list")
def surveys_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every survey with its public key and allowed origins."""
    with _database() as engine, session_scope(engine) as session:
        surveys = list_surveys(session, hub_url=_hub_url())
    if as_json:
        typer.echo(json.dumps([survey.model_dump(mode="json") for survey in surveys]))
        return
    table = Table("id", "name", "type", "origins", "active")
    # The key stays whole (copyable) however narrow the terminal.
    table.add_column("key", no_wrap=True, min_width=27)
    for survey in surveys:
        active = "yes" if survey.active and not survey.key_revoked else "no"
        origins = ", ".join(survey.allowed_origins)
        table.add_row(str(survey.id), survey.name, survey.type.value, origins, active, survey.key)
    console.print(table)


if __name__ == "__main__":
    app()
