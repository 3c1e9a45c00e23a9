"""Ingest throughput: the file importer against raw sqlite3 executemany, plus the batch API.

Run: ``.venv/bin/python benchmarks/ingest.py [--items 100000] [--api-items 20000] [--keep]``.
Exits 1 when the importer reaches less than half of the raw insert rate.
"""

import argparse
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from hub.feedback.importer import import_file
from hub.store.engine import SQLITE_PRAGMAS, make_engine
from hub.store.migrate import upgrade

SEED = 20240917
TARGET_RATIO = 0.5
CHUNK = 1000
CUSTOMERS = 2000
ANCHOR = datetime(2025, 6, 30, tzinfo=UTC)  # fixed, so the data set is reproducible
SPREAD = timedelta(days=90)
CLI = Path(sys.executable).parent / "feedback-hub"
console = Console()

WORDS_TEXT = (
    "the app is slow fast crashes when I open settings login checkout payment invoice "
    "support agent helpful rude waited hours days refund delivery late package arrived "
    "broken great love hate price expensive cheap value feature missing export report "
    "dashboard search filter button screen mobile android iphone tablet browser update "
    "version bug error message confusing clear easy hard onboarding tutorial docs team "
    "account password reset email notification spam sync offline battery dark mode "
    "please fix thanks again really very quite never always sometimes after before"
)
SCORE_TYPES: dict[str, list[str | None]] = {
    "survey": ["nps", "nps", "csat", "ces"],
    "rating": ["stars", "thumbs"],
    "review": ["stars"],
    "ticket": ["csat", None],
    "social": [None],
}
SCORE_RANGES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7), "stars": (1, 5), "thumbs": (0, 1)}
SYLLABLES = "ka lo mi ne su ta ri po be da fe gu hi jo lu ma no pe qu ra se ti vo wa xe yu zo"


@dataclass(frozen=True)
class Timing:
    """One measured path: what it did, how many items and how long it took."""

    path: str
    items: int
    seconds: float

    @property
    def rate(self) -> float:
        """Items per second."""
        return self.items / self.seconds if self.seconds else 0.0


def vocabulary(rng: random.Random) -> list[str]:
    """Real feedback words plus a few hundred seeded pseudo-words, for varied texts."""
    syllables = SYLLABLES.split()
    made = {"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(600)}
    return WORDS_TEXT.split() + sorted(made)


def make_text(rng: random.Random, words: Sequence[str]) -> str:
    """A 50 to 400 character text of sentences drawn from ``words``."""
    target = rng.randint(50, 400)
    parts: list[str] = []
    size = 0
    while size <= target:  # size counts a separator after each sentence
        sentence = " ".join(rng.choices(words, k=rng.randint(4, 14))).capitalize() + "."
        parts.append(sentence)
        size += len(sentence) + 1
    text = " ".join(parts)[:target]
    return text[:-1] + "." if text.endswith(" ") else text  # exactly `target` characters


def make_score(rng: random.Random, channel: str) -> tuple[str, int] | None:
    """A score type and an in-range score that suit the channel (or none)."""
    kind = rng.choice(SCORE_TYPES[channel])
    if kind is None:
        return None
    low, high = SCORE_RANGES[kind]
    return kind, rng.randint(low, high)


def customer(k: int) -> dict[str, str]:
    """Customer ``k``, with the same details every time it appears."""
    first = ["ana", "ben", "chen", "dara", "eli", "fatma", "goran", "hana", "ivo", "jun"][k % 10]
    segment = ["enterprise", "smb", "startup", "consumer"][k % 4]
    return {
        "ref": f"cus_{k}",
        "email": f"{first}.{k}@customers{k % 7}.example.com",
        "name": f"{first.capitalize()} Customer{k}",
        "segment": segment,
    }


def make_item(rng: random.Random, words: Sequence[str], prefix: str, i: int) -> dict[str, Any]:
    """One API-shaped item (no ``source``: the import gives it)."""
    channel = rng.choices(["survey", "rating", "review", "social", "ticket"], [3, 2, 2, 1, 2])[0]
    when = ANCHOR - timedelta(seconds=rng.randrange(int(SPREAD.total_seconds())))
    item: dict[str, Any] = {
        "external_id": f"{prefix}-{i:08d}",
        "channel": channel,
        "text": make_text(rng, words),
        "created_at": when.isoformat(),
    }
    if score := make_score(rng, channel):
        item["score_type"], item["score"] = score
    if channel == "review" and rng.random() < 0.5:
        item["title"] = make_text(rng, words)[:60]
    if rng.random() < 0.5:
        item["customer"] = customer(rng.randrange(CUSTOMERS))
    if rng.random() < 0.3:
        item["metadata"] = {
            "plan": rng.choice(["free", "pro", "team"]),
            "app_version": f"{rng.randint(1, 4)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
            "locale": rng.choice(["en-US", "de-DE", "fr-FR", "ja-JP"]),
        }
    return item


def make_items(count: int, *, prefix: str, seed: int) -> list[dict[str, Any]]:
    """``count`` reproducible items with unique external ids."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    return [make_item(rng, words, prefix, i) for i in range(count)]


def write_jsonl(path: Path, items: Sequence[dict[str, Any]]) -> None:
    """One JSON object per line."""
    with path.open("w", encoding="utf-8") as out:
        for item in items:
            out.write(json.dumps(item, ensure_ascii=False) + "\n")


def migrated_sqlite(path: Path) -> str:
    """Create ``path`` at the newest schema; return its URL."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def time_hub_import(db: Path, jsonl: Path, count: int) -> Timing:
    """Time ``import_file`` end to end on a fresh database and check every line landed."""
    engine = make_engine(migrated_sqlite(db))
    try:
        start = time.perf_counter()
        report = import_file(engine, jsonl, source="bench", parallel=None)  # as the CLI does
        seconds = time.perf_counter() - start
    finally:
        engine.dispose()
    assert report.created == count, f"importer created {report.created} of {count}"
    assert report.rejected == 0, f"importer rejected {report.rejected} lines"
    assert count_rows(db, "feedback") == count
    return Timing("hub import_file", count, seconds)


def count_rows(db: Path, table: str) -> int:
    """Rows in ``table``."""
    with closing(sqlite3.connect(db)) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608


def connect_raw(db: Path) -> sqlite3.Connection:
    """A stdlib connection with the hub's pragmas."""
    conn = sqlite3.connect(db)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(pragma)
    return conn


@dataclass(frozen=True)
class Rows:
    """An INSERT statement for one table and the row tuples it takes."""

    sql: str
    rows: list[tuple[Any, ...]]


def read_rows(conn: sqlite3.Connection, table: str, *, drop: Sequence[str] = ()) -> Rows:
    """Every stored row of ``table`` (as stored), minus the ``drop`` columns."""
    cursor = conn.execute(f"SELECT * FROM {table} ORDER BY id")  # noqa: S608
    names = [column[0] for column in cursor.description]
    keep = [i for i, name in enumerate(names) if name not in drop]
    rows = [tuple(row[i] for i in keep) for row in cursor]
    columns = ", ".join(f'"{names[i]}"' for i in keep)
    marks = ", ".join("?" for _ in keep)
    return Rows(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608


def time_raw_insert(source_db: Path, db: Path) -> Timing:
    """Time executemany of the hub's final rows into a fresh database, committing per chunk."""
    with closing(sqlite3.connect(source_db)) as conn:
        # Feedback ids are left to the database, as the hub does; the few parent rows keep theirs
        # so that feedback.customer_id / source_id point at the same rows.
        tables = [
            read_rows(conn, "source"),
            read_rows(conn, "customer"),
            read_rows(conn, "feedback", drop=["id"]),
        ]
    migrated_sqlite(db)
    raw = connect_raw(db)
    try:
        start = time.perf_counter()
        for table in tables:
            for chunk in chunks(table.rows, CHUNK):
                raw.executemany(table.sql, chunk)
                raw.commit()
        seconds = time.perf_counter() - start
    finally:
        raw.close()
    count = len(tables[-1].rows)
    assert count_rows(db, "feedback") == count
    return Timing("raw sqlite3 executemany", count, seconds)


def chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Consecutive slices of ``size``."""
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(db: Path) -> dict[str, str]:
    """The environment for the hub's CLI against ``db``."""
    return os.environ | {"HUB_DATABASE_URL": f"sqlite:///{db}", "HUB_LOG_LEVEL": "warning"}


def create_key(env: dict[str, str], cwd: Path) -> str:
    """A new ingest key's secret, from ``feedback-hub keys create --json``."""
    args = [str(CLI), "keys", "create", "--name", "bench", "--scope", "ingest", "--json"]
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return str(json.loads(done.stdout.strip().splitlines()[-1])["key"])


def wait_healthy(base: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Poll GET /healthz until it answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not become healthy in time")


def post_batches(base: str, key: str, items: Sequence[dict[str, Any]]) -> None:
    """POST ``items`` in batches of 1000, one after another; every item must be created."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        for batch in chunks(items, CHUNK):
            response = client.post("/api/v1/feedback", json={"items": list(batch)})
            response.raise_for_status()
            body = response.json()
            if body["created"] != len(batch):
                counts = {k: body[k] for k in ("created", "duplicate", "rejected")}
                raise RuntimeError(f"batch not all created: {counts}")


def time_api(base: str, key: str, items: list[dict[str, Any]], clients: int) -> Timing:
    """Time posting ``items`` split over ``clients`` threads, each sending sequentially."""
    shares = [items[i::clients] for i in range(clients)]
    errors: list[BaseException] = []

    def send(share: list[dict[str, Any]]) -> None:
        try:
            post_batches(base, key, share)
        except BaseException as exc:  # reported from the main thread
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed; first: {errors[0]!r}")
    label = "client" if clients == 1 else "clients"
    return Timing(f"HTTP batch API, {clients} {label}", len(items), seconds)


def api_items(count: int, prefix: str, seed: int) -> list[dict[str, Any]]:
    """Items for the API, which (unlike the importer) needs each item's ``source``."""
    items = make_items(count, prefix=prefix, seed=seed)
    for item in items:
        item["source"] = "bench-api"
    return items


def time_api_paths(workdir: Path, count: int) -> list[Timing]:
    """Start the real server and time the batch API with one and with two clients."""
    db = workdir / "api.db"
    env = server_env(db)
    key = create_key(env, workdir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = (workdir / "server.log").open("wb")
    server = subprocess.Popen(serve, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(base, server)
        single = time_api(base, key, api_items(count, "api1", SEED + 1), clients=1)
        double = time_api(base, key, api_items(count, "api2", SEED + 2), clients=2)
    except BaseException:
        console.print(f"[red]API run failed[/red]; server log tail:\n{log_tail(workdir)}")
        raise
    finally:
        stop(server)
        log.close()
    assert count_rows(db, "feedback") == 2 * count
    return [single, double]


def log_tail(workdir: Path, lines: int = 30) -> str:
    """The last lines the server wrote."""
    text = (workdir / "server.log").read_text(encoding="utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def stop(server: subprocess.Popen[bytes]) -> None:
    """Terminate the server, killing it if it lingers."""
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def print_table(timings: Sequence[Timing], raw: Timing) -> None:
    """Path, items, seconds, items/s and the rate relative to raw sqlite3."""
    table = Table("path", "items", "seconds", "items/s", "vs raw", title="Ingest throughput")
    for timing in timings:
        table.add_row(
            timing.path,
            f"{timing.items:,}",
            f"{timing.seconds:.2f}",
            f"{timing.rate:,.0f}",
            f"{timing.rate / raw.rate:.3f}",
        )
    console.print(table)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000, help="items to import")
    parser.add_argument("--api-items", type=int, default=20_000, help="items per API run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path; best counts")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, workdir: Path) -> int:
    """Generate, measure, print; 1 when the hub/raw target is missed."""
    jsonl = workdir / "items.jsonl"
    write_jsonl(jsonl, make_items(args.items, prefix="bench", seed=SEED))
    console.print(f"{args.items:,} items in {jsonl} ({jsonl.stat().st_size / 1e6:.1f} MB)")
    # Best of N, alternating the two paths, so a noisy moment on a shared machine hurts neither.
    hubs, raws = [], []
    for run_no in range(args.repeat):
        hubs.append(time_hub_import(workdir / f"hub-{run_no}.db", jsonl, args.items))
        raws.append(time_raw_insert(workdir / f"hub-{run_no}.db", workdir / f"raw-{run_no}.db"))
    hub = min(hubs, key=lambda timing: timing.seconds)
    raw = min(raws, key=lambda timing: timing.seconds)
    console.print(
        f"best of {args.repeat}: hub {', '.join(f'{t.seconds:.2f}' for t in hubs)} s; "
        f"raw {', '.join(f'{t.seconds:.2f}' for t in raws)} s"
    )
    timings = [raw, hub]
    if args.api_items > 0:
        timings += time_api_paths(workdir, args.api_items)
    print_table(timings, raw)
    ratio = hub.rate / raw.rate
    if ratio < TARGET_RATIO:
        console.print(
            f"[red]TARGET MISSED[/red]: hub/raw ratio {ratio:.3f} < {TARGET_RATIO} "
            f"({hub.rate:,.0f} vs {raw.rate:,.0f} items/s)"
        )
        return 1
    console.print(f"[green]target met[/green]: hub/raw ratio {ratio:.3f} >= {TARGET_RATIO}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run in a temporary directory, removed afterwards unless ``--keep``."""
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    try:
        return run(args, workdir)
    finally:
        if args.keep:
            console.print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
