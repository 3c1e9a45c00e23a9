"""Trend queries through the rollups against a naive GROUP BY on the raw tables, at scale.

Run: ``.venv/bin/python benchmarks/trends.py [--items 1000000] [--backends sqlite,postgresql]``.
For each backend it generates the items (bulk inserts: executemany on SQLite, COPY on
PostgreSQL), builds the rollups with one INSERT … SELECT per table, then times the NPS trend
(a year, weekly) and the topic trends (12 weeks against the 12 before, weekly) through the hub's
query functions and through a naive GROUP BY on feedback / feedback_topic, checks that both give
the same numbers, and prints a table. Exits 1 when a rollup query takes 100 ms or more or is
less than 20x faster than the naive one.
"""

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, insert, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from hub.metrics.queries import Filters, Interval, Window, metric_report, topic_trends
from hub.metrics.service import CUSTOMER, rebuild
from hub.metrics.stats import nps
from hub.sources.service import resolve_source_ids
from hub.store.engine import make_engine, session_scope
from hub.store.migrate import upgrade
from hub.topics.service import seed_topics

SEED = 20261204
TARGET_MS = 100.0
TARGET_SPEEDUP = 20.0
END = date(2026, 11, 30)
DAYS = 365
POSTGRES_URL = "postgresql+psycopg://127.0.0.1:5432/test"
# (name, channel, score type or None)
SOURCES = [
    ("nps-survey", "survey", "nps"), ("support-csat", "ticket", "csat"),
    ("effort-survey", "survey", "ces"), ("app-store", "review", "stars"),
    ("widget", "rating", "thumbs"), ("social", "social", None),
]  # fmt: skip
RANGES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7), "stars": (1, 5), "thumbs": (0, 1)}
SEGMENTS = ["smb", "mid", "enterprise", None]
COLUMNS = ("id", "source_id", "external_id", "channel", "text", "score_type", "score",
           "customer_id", "created_at", "received_at", "content_hash", "language", "sentiment",
           "nlp_state", "nlp_attempts")  # fmt: skip
console = Console()


@dataclass
class Timing:
    backend: str
    query: str
    rollup_ms: float
    naive_ms: float

    @property
    def speedup(self) -> float:
        return self.naive_ms / self.rollup_ms

    @property
    def ok(self) -> bool:
        return self.rollup_ms < TARGET_MS and self.speedup >= TARGET_SPEEDUP


def generate(
    items: int, topics: int, source_ids: list[int]
) -> Iterator[tuple[tuple[Any, ...], list[int]]]:
    """Feedback rows (COLUMNS order) and their topic ids; topic 1 rises in the last 6 weeks."""
    rng = random.Random(SEED)
    start = datetime.combine(END - timedelta(days=DAYS - 1), datetime.min.time())
    for feedback_id in range(1, items + 1):
        source_id = rng.randrange(len(SOURCES))
        _, channel, score_type = SOURCES[source_id]
        score = rng.randint(*RANGES[score_type]) if score_type else None
        created = start + timedelta(seconds=rng.randrange(DAYS * 86400))
        mood = rng.random()
        sentiment = "negative" if mood < 0.3 else "neutral" if mood < 0.6 else "positive"
        done = rng.random() < 0.95
        row = (
            feedback_id, source_ids[source_id], f"b{feedback_id}", channel, "benchmark item",
            score_type, score, rng.randint(1, 2000) if rng.random() < 0.7 else None, created,
            created, "0" * 64, rng.choice(("en", "es", "pt")) if done else None,
            sentiment if done else None, "done" if done else "pending", 1 if done else 0,
        )  # fmt: skip
        chosen = rng.sample(range(1, topics + 1), rng.choice((0, 1, 1, 2))) if done else []
        if done and created.date() > END - timedelta(days=42) and rng.random() < 0.05:
            chosen = sorted({*chosen, 1})
        yield row, chosen


def load(engine: Engine, items: int) -> None:
    """Sources, customers, topics, then the items and their topics in bulk."""
    with session_scope(engine) as session:
        topics = seed_topics(session)
        resolve_source_ids(session, names={name for name, _, _ in SOURCES}, kind="import")
        now = datetime.now(UTC)
        session.execute(
            insert(CUSTOMER),
            [{"external_ref": f"c{n}", "segment": SEGMENTS[n % 4], "attributes": {},
              "created_at": now, "updated_at": now} for n in range(1, 2001)],
        )  # fmt: skip
        ids = dict(session.execute(text("SELECT name, id FROM source")).all())
        source_ids = [ids[name] for name, _, _ in SOURCES]
    rows = generate(items, topics, source_ids)
    if engine.dialect.name == "sqlite":
        _load_sqlite(engine, rows)
    else:
        _load_postgres(engine, rows)


def _load_sqlite(engine: Engine, rows: Iterator[tuple[tuple[Any, ...], list[int]]]) -> None:
    path = engine.url.database
    assert path
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    marks = ", ".join("?" for _ in COLUMNS)
    feedback_sql = f"INSERT INTO feedback ({', '.join(COLUMNS)}) VALUES ({marks})"  # noqa: S608
    topic_sql = (
        "INSERT INTO feedback_topic (feedback_id, topic_id, confidence, assigned_by, created_at) "
        "VALUES (?, ?, 0.8, 'model', '2026-12-01 00:00:00.000000')"
    )
    batch: list[tuple[Any, ...]] = []
    topic_batch: list[tuple[int, int]] = []
    for row, topic_ids in rows:
        created = row[8].isoformat(" ", "microseconds")
        batch.append((*row[:8], created, created, *row[10:]))
        topic_batch += [(row[0], topic_id) for topic_id in topic_ids]
        if len(batch) >= 50_000:
            connection.executemany(feedback_sql, batch)
            connection.executemany(topic_sql, topic_batch)
            batch, topic_batch = [], []
    connection.executemany(feedback_sql, batch)
    connection.executemany(topic_sql, topic_batch)
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()


def _load_postgres(engine: Engine, rows: Iterator[tuple[tuple[Any, ...], list[int]]]) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        created = datetime(2026, 12, 1)
        topic_rows: list[tuple[int, int]] = []
        with cursor.copy(f"COPY feedback ({', '.join(COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row, topic_ids in rows:
                copy.write_row(row)
                topic_rows += [(row[0], topic_id) for topic_id in topic_ids]
        with cursor.copy(  # type: ignore[attr-defined]
            "COPY feedback_topic (feedback_id, topic_id, confidence, assigned_by, created_at) "
            "FROM STDIN"
        ) as copy:
            for feedback_id, topic_id in topic_rows:
                copy.write_row((feedback_id, topic_id, 0.8, "model", created))
        cursor.execute("SELECT setval('feedback_id_seq', (SELECT max(id) FROM feedback))")
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


# --- the naive way: GROUP BY on the raw tables -------------------------------------------------


def _day_sql(engine: Engine, column: str) -> str:
    return f"date({column})" if engine.dialect.name == "sqlite" else f"CAST({column} AS DATE)"


def _as_date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[no-any-return]


def naive_nps(session: Session, window: Window) -> list[float | None]:
    """Weekly NPS straight from the feedback table."""
    day = _day_sql(session.get_bind(), "created_at")  # type: ignore[arg-type]
    buckets = ", ".join(f"SUM(CASE WHEN score = {v} THEN 1 ELSE 0 END)" for v in range(11))
    sql = (
        f"SELECT {day} AS day, {buckets} FROM feedback WHERE score_type = 'nps' "  # noqa: S608
        "AND created_at >= :start AND created_at < :end GROUP BY 1"
    )
    per_period: dict[date, list[int]] = {}
    for row in session.execute(text(sql), _bounds(window.start, window.end)):
        counts = per_period.setdefault(window.period(_as_date(row[0])), [0] * 15)
        for value in range(11):
            counts[1 + value] += int(row[1 + value])
    return [nps(per_period.get(p, [0] * 15))["nps"] for p in window.periods()]


def naive_topic_volumes(session: Session, start: date, end: date) -> dict[int, int]:
    """Items per topic, and their sentiment and NPS answers, from feedback ⨝ feedback_topic."""
    day = _day_sql(session.get_bind(), "f.created_at")  # type: ignore[arg-type]
    sql = (
        f"SELECT {day} AS day, ft.topic_id, f.score_type, COUNT(*), "  # noqa: S608
        "SUM(CASE WHEN f.sentiment = 'negative' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN f.sentiment = 'positive' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN f.score >= 9 THEN 1 ELSE 0 END) "
        "FROM feedback_topic ft JOIN feedback f ON f.id = ft.feedback_id "
        "WHERE f.created_at >= :start AND f.created_at < :end GROUP BY 1, 2, 3"
    )
    volumes: dict[int, int] = {}
    for row in session.execute(text(sql), _bounds(start, end)):
        volumes[row[1]] = volumes.get(row[1], 0) + int(row[3])
    session.execute(
        text(f"SELECT {_day_sql(session.get_bind(), 'created_at')}, COUNT(*) FROM feedback "  # type: ignore[arg-type]  # noqa: S608
             "WHERE created_at >= :start AND created_at < :end GROUP BY 1"),
        _bounds(start, end),
    ).all()  # fmt: skip
    return volumes


def _bounds(start: date, end: date) -> dict[str, datetime]:
    first = datetime.combine(start, datetime.min.time())
    return {"start": first, "end": datetime.combine(end + timedelta(days=1), datetime.min.time())}


def median_ms(function: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median wall time of ``runs`` calls (after one warm-up), and the last result."""
    result = function()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def measure(engine: Engine, backend: str) -> list[Timing]:
    """Time both queries both ways; fail loudly if the answers differ."""
    year = Window(END - timedelta(days=DAYS - 1), END, Interval.week)
    recent = Window.of(None, END, Interval.week)  # the API default: 12 weeks
    base_start = recent.start - (recent.end - recent.start) - timedelta(days=1)
    with Session(engine) as session:
        rollup_ms, report = median_ms(
            lambda: metric_report(session, metric="nps", window=year, filters=Filters()), 7
        )
        naive_ms, naive = median_ms(lambda: naive_nps(session, year), 3)
        if [point["nps"] for point in report["series"]] != naive:
            raise SystemExit(f"{backend}: the rollup NPS series differs from the raw one")
        nps_timing = Timing(backend, "NPS trend (1 year, weekly)", rollup_ms, naive_ms)
        rollup_ms, trends = median_ms(lambda: topic_trends(session, window=recent), 7)
        naive_ms, volumes = median_ms(
            lambda: naive_topic_volumes(session, base_start, recent.end), 3
        )
        current = naive_topic_volumes(session, recent.start, recent.end)
        keys = dict(session.execute(text("SELECT key, id FROM topic")).all())
        if {keys[t["key"]]: t["volume"] for t in trends["topics"] if t["volume"]} != current:
            raise SystemExit(f"{backend}: the rollup topic volumes differ from the raw ones")
        assert volumes
        console.print(f"{backend}: rising topics {trends['rising']}")
        topic_timing = Timing(backend, "topic trends (12 vs 12 weeks)", rollup_ms, naive_ms)
    return [nps_timing, topic_timing]


def run_backend(backend: str, items: int, workdir: Path) -> list[Timing]:
    """A fresh database of this backend: load, roll up, measure; dropped afterwards."""
    schema = f"bench_trends_{uuid.uuid4().hex[:8]}"
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{workdir / 'trends.db'}")
    else:
        admin = make_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        engine = make_engine(url.render_as_string(hide_password=False))
    try:
        upgrade(engine)
        started = time.perf_counter()
        load(engine, items)
        loaded = time.perf_counter()
        with session_scope(engine) as session:
            rows = rebuild(session)
        built = time.perf_counter()
        if backend == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("ANALYZE feedback_rollup; ANALYZE topic_rollup"))
        console.print(
            f"{backend}: {items:,} items loaded in {loaded - started:.1f} s; rollups "
            f"({rows:,} feedback_rollup rows) built in {built - loaded:.1f} s"
        )
        return measure(engine, backend)
    finally:
        engine.dispose()
        if backend == "postgresql":
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def print_table(timings: Sequence[Timing]) -> None:
    table = Table(title="Trend queries: rollups vs naive GROUP BY on the raw table (median)")
    for column in ("backend", "query", "rollups ms", "naive ms", "speed-up", "target"):
        table.add_column(
            column, justify="right" if "ms" in column or column == "speed-up" else "left"
        )
    for t in timings:
        verdict = "[green]met[/green]" if t.ok else "[red]MISSED[/red]"
        table.add_row(
            t.backend,
            t.query,
            f"{t.rollup_ms:.1f}",
            f"{t.naive_ms:.0f}",
            f"{t.speedup:.0f}x",
            verdict,
        )
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    timings: list[Timing] = []
    with tempfile.TemporaryDirectory(prefix="hub-trends-") as workdir:
        for backend in args.backends.split(","):
            timings += run_backend(backend, args.items, Path(workdir))
    print_table(timings)
    missed = [t for t in timings if not t.ok]
    if missed:
        console.print(
            f"[red]TARGET MISSED[/red]: < {TARGET_MS:.0f} ms and >= {TARGET_SPEEDUP:.0f}x"
        )
        return 1
    console.print(f"[green]targets met[/green]: < {TARGET_MS:.0f} ms and >= {TARGET_SPEEDUP:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
