"""`feedback-hub nlp`: train, fine-tune and evaluate the models; re-score stored feedback."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from hub.cli_support import console, database, err_console, fail
from hub.config import get_settings
from hub.errors import HubError, InvalidInput
from hub.store.engine import session_scope

if TYPE_CHECKING:
    from nlp.embedding import Embedder

nlp_app = typer.Typer(help="Language, sentiment and topics of feedback.")


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
    with database() as engine:
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


def _embedder() -> "Embedder":
    from hub.enrichment.pipeline import topic_embedder

    return topic_embedder(get_settings())


def _labelled(files: list[Path]) -> list[dict[str, Any]]:
    from nlp.sentiment import read_labelled

    try:
        return read_labelled(files)
    except ValueError as exc:
        raise fail(InvalidInput(str(exc))) from exc


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
        with database() as engine, session_scope(engine) as session:
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
        raise fail(InvalidInput(str(exc))) from exc
    train = [example for path in data for example in examples(_labelled([path]), path.stem)]
    held = [example for path in val or [] for example in examples(_labelled([path]), path.stem)]
    sources = [
        f"{path.name} ({sum(1 for e in train if e.group == path.stem)} examples)" for path in data
    ]
    if with_corrections:
        with database() as engine, session_scope(engine) as session:
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
            raise fail(InvalidInput(str(exc))) from exc
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
        raise fail(InvalidInput(str(exc))) from exc
    if sentiment is None:
        raise fail(InvalidInput(f"no sentiment model ({settings.sentiment_model}): see the log"))
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
        raise fail(InvalidInput(str(exc))) from exc
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
        raise fail(exc) from exc
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
