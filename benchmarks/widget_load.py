"""Widget load: POST /api/v1/responses at a fixed rate against the real server, beside a bare one.

Run: ``.venv/bin/python benchmarks/widget_load.py [--rate 200] [--seconds 30] [--no-postgres]``.

An open-loop load over loopback: ``--rate`` new responses a second for ``--seconds``, each with a
fresh ``Idempotency-Key``; 10% are sent again (a widget's retry) with the same key. Requests leave
on a fixed schedule and latency counts from the scheduled time, so a server that falls behind is
charged for the queueing it causes. The client is a small keep-alive HTTP/1.1 pool on uvloop,
light enough not to be the bottleneck on the cores it shares with the servers. Targets, in
one run: ``feedback-hub serve`` on SQLite, on PostgreSQL (``HUB_TEST_POSTGRES_URL``, a scratch
schema), and a bare FastAPI app whose endpoint does one INSERT into SQLite (the limit: no
validation, no idempotency, no CORS). Prints throughput, p50/p95/p99 latency, errors, and the
stored count, which must equal the unique sends. Exits 1 when a hub target reaches less than
0.5x the bare throughput or its p99 is 50 ms or more.
"""

import argparse
import asyncio
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from hub.store.engine import make_engine

TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
RETRY_SHARE = 0.10
ORIGIN = "https://shop.example.com"
CLI = Path(sys.executable).parent / "feedback-hub"
POSTGRES_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql+psycopg://127.0.0.1:5432/test")
console = Console()

# The bare comparison: one INSERT per request, one connection per worker thread.
bare_app = FastAPI()
BARE_DB = os.environ.get("BENCH_BARE_DB", "bare.db")
_connections: dict[int, sqlite3.Connection] = {}


def _bare_connection() -> sqlite3.Connection:
    import threading

    ident = threading.get_ident()
    if ident not in _connections:
        conn = sqlite3.connect(BARE_DB, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        _connections[ident] = conn
    return _connections[ident]


@bare_app.post("/responses", status_code=201)
async def bare_response(request: Request) -> dict[str, Any]:
    """Parse the JSON and insert it: nothing else."""
    body = json.loads(await request.body())
    conn = _bare_connection()
    cursor = conn.execute(
        "INSERT INTO response (score, comment) VALUES (?, ?)", (body["score"], body.get("comment"))
    )
    conn.commit()
    return {"id": cursor.lastrowid, "status": "created"}


@dataclass
class Result:
    """One target's run."""

    target: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    unique: int = 0
    stored: int = 0

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, q: int) -> float:
        """Latency in ms at percentile ``q``."""
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100)[q - 1] * 1000


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Poll ``url`` until it answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in time")


def stop(server: subprocess.Popen[bytes]) -> None:
    """Terminate the server, killing it if it lingers."""
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


class Http1Pool:
    """Keep-alive HTTP/1.1 connections to one server: POST a body, get the status back.

    Far cheaper per request than a full client (httpx spends ~1 ms of CPU on each), which
    matters when the load generator shares two cores with the server it measures.
    """

    IDLE_SECONDS = 4.0  # below uvicorn's keep-alive timeout (5 s): never reuse a closed one

    def __init__(self, url: str, *, max_connections: int = 200, timeout: float = 10) -> None:
        parsed = httpx.URL(url)
        self.host, self.port, self.path = parsed.host, parsed.port or 80, parsed.raw_path
        self.timeout = timeout
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def post(self, body: bytes, headers: dict[str, str]) -> int:
        """The response's status code; raises ``OSError`` or ``TimeoutError`` on failure."""
        async with self._slots:
            while self._idle and time.monotonic() - self._idle[0][2] > self.IDLE_SECONDS:
                self._idle.pop(0)[1].close()  # the first ones idled longest
            if self._idle:
                reader, writer, _ = self._idle.pop()
            else:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            try:
                status, reusable = await asyncio.wait_for(
                    self._exchange(reader, writer, body, headers), self.timeout
                )
            except BaseException:
                writer.close()
                raise
            if reusable:
                self._idle.append((reader, writer, time.monotonic()))
            else:
                writer.close()
            return status

    async def _exchange(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        body: bytes,
        headers: dict[str, str],
    ) -> tuple[int, bool]:
        lines = [f"POST {self.path.decode()} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 "Content-Type: application/json", f"Content-Length: {len(body)}",
                 *(f"{name}: {value}" for name, value in headers.items())]  # fmt: skip
        writer.write("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body)
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        status = int(head.split(" ", 2)[1])
        fields = dict(line.split(":", 1) for line in head.split("\r\n")[1:] if ":" in line)
        if "content-length" not in fields:
            raise OSError("the test servers answer with a Content-Length")
        await reader.readexactly(int(fields["content-length"]))
        return status, fields.get("connection", "").strip() != "close"

    def close(self) -> None:
        for _reader, writer, _ in self._idle:
            writer.close()
        self._idle.clear()


async def load(url: str, make_body: Any, *, rate: int, seconds: float, seed: int) -> Result:
    """Send ``rate`` new responses a second for ``seconds``; 10% are retried with their key.

    Each send is due at a fixed time (``n / rate`` after the start), and its latency runs from
    then, not from when the client got round to it (no coordinated omission).
    """
    rng = random.Random(seed)
    result = Result(target="", seconds=seconds)
    pool = Http1Pool(url)

    async def send(key: str, body: bytes, due: float, retry: bool) -> None:
        headers = {"Origin": ORIGIN, "Idempotency-Key": key}
        try:
            status: int | str = await pool.post(body, headers)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            status = type(exc).__name__
        done = time.perf_counter()
        result.latencies.append(done - due)
        if status not in (200, 201):
            result.errors[str(status)] = result.errors.get(str(status), 0) + 1
        elif retry:  # the widget retries once the first answer is in (or lost)
            await send(key, body, done, retry=False)

    tasks = []
    start = time.perf_counter()
    total = int(rate * seconds)
    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        key = f"bench-{seed}-{n:08d}"
        retry = rng.random() < RETRY_SHARE
        body = json.dumps(make_body(rng, n)).encode()
        tasks.append(asyncio.create_task(send(key, body, due, retry)))
    await asyncio.gather(*tasks)
    pool.close()
    result.seconds = time.perf_counter() - start
    result.unique = total
    return result


def run_async(main: Callable[[], Coroutine[Any, Any, Result]]) -> Result:
    """Run ``main()`` on uvloop when it is installed (as with uvicorn[standard]), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


def widget_body(key: str) -> Any:
    def make(rng: random.Random, n: int) -> dict[str, Any]:
        return {
            "key": key,
            "score": rng.randint(0, 10),
            "comment": f"response {n}: checkout was slow today" if n % 3 else None,
            "customer": {"id": f"cus_{n % 500}", "email": f"c{n % 500}@example.com"},
            "metadata": {"url": f"{ORIGIN}/checkout", "locale": "en-US"},
        }

    return make


def run_hub(workdir: Path, name: str, database_url: str, args: argparse.Namespace) -> Result:
    """Start ``feedback-hub serve`` on ``database_url``, make a survey, load it."""
    env = os.environ | {
        "HUB_DATABASE_URL": database_url,
        "HUB_LOG_LEVEL": "warning",
        "HUB_WORKER_IN_SERVE": "false",
        "HUB_SCHEDULER_ENABLED": "false",
    }
    create = [str(CLI), "surveys", "create", "--type", "nps", "--question", "Recommend us?",
              "--origin", ORIGIN, "--rate-limit", "1000000", "--json"]  # fmt: skip
    done = subprocess.run(create, env=env, cwd=workdir, capture_output=True, text=True, check=True)
    key = json.loads(done.stdout.strip().splitlines()[-1])["key"]
    port = free_port()
    serve = [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = (workdir / f"{name}.log").open("wb")
    server = subprocess.Popen(serve, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz", server)
        url = f"http://127.0.0.1:{port}/api/v1/responses"
        result = run_async(
            lambda: load(
                url, widget_body(key), rate=args.rate, seconds=args.seconds, seed=args.seed
            )
        )
    finally:
        stop(server)
        log.close()
    engine = make_engine(database_url)
    with engine.connect() as connection:
        result.stored = connection.execute(text("SELECT count(*) FROM feedback")).scalar_one()
    engine.dispose()
    result.target = name
    return result


def run_bare(workdir: Path, args: argparse.Namespace) -> Result:
    """The bare one-INSERT app under the same load."""
    db = workdir / "bare.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE response (id INTEGER PRIMARY KEY, score INT, comment TEXT)")
    port = free_port()
    env = os.environ | {"BENCH_BARE_DB": str(db)}
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).parent),
               "widget_load:bare_app", "--port", str(port), "--log-level", "warning"]  # fmt: skip
    log = (workdir / "bare.log").open("wb")
    server = subprocess.Popen(command, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_up(f"http://127.0.0.1:{port}/docs", server)
        url = f"http://127.0.0.1:{port}/responses"
        result = run_async(
            lambda: load(
                url, widget_body("pk_bare"), rate=args.rate, seconds=args.seconds, seed=args.seed
            )
        )
    finally:
        stop(server)
        log.close()
    with sqlite3.connect(db) as conn:
        result.stored = conn.execute("SELECT count(*) FROM response").fetchone()[0]
    result.target = "bare FastAPI, one INSERT (SQLite)"
    return result


def postgres_schema_url() -> tuple[str, str] | None:
    """A fresh schema on the test PostgreSQL, or None when it is unreachable."""
    from sqlalchemy.engine import make_url

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = make_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
    except Exception as exc:  # any failure: run without the PostgreSQL target
        console.print(f"[yellow]PostgreSQL skipped[/yellow]: {exc}")
        return None
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def drop_schema(schema: str) -> None:
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def print_table(results: Sequence[Result]) -> None:
    table = Table("target", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "stored", "unique",
                  title="Widget responses under load")  # fmt: skip
    for r in results:
        errors = ", ".join(f"{k}: {v}" for k, v in r.errors.items()) or "0"
        table.add_row(r.target, f"{r.throughput:,.0f}", f"{r.percentile(50):.1f}",
                      f"{r.percentile(95):.1f}", f"{r.percentile(99):.1f}", errors,
                      f"{r.stored:,}", f"{r.unique:,}")  # fmt: skip
    console.print(table)


def verdict(hubs: Sequence[Result], bare: Result) -> int:
    """1 when a hub target misses a target (ratio, p99, errors, stored count), else 0."""
    failed = False
    for r in hubs:
        problems = []
        if r.throughput < TARGET_RATIO * bare.throughput:
            floor = TARGET_RATIO * bare.throughput
            problems.append(f"throughput {r.throughput:.0f} < {floor:.0f} (0.5x bare)")
        if not r.percentile(99) < TARGET_P99_MS:
            problems.append(f"p99 {r.percentile(99):.1f} ms >= {TARGET_P99_MS:.0f} ms")
        if r.errors:
            problems.append(f"errors {r.errors}")
        if r.stored != r.unique:
            problems.append(f"stored {r.stored} != unique sends {r.unique}")
        if problems:
            failed = True
            console.print(f"[red]TARGET MISSED[/red] {r.target}: {'; '.join(problems)}")
        else:
            console.print(f"[green]target met[/green] {r.target}")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=200, help="new responses a second")
    parser.add_argument("--seconds", type=float, default=30, help="length of each run")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL target")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="widget-bench-") as tmp:
        workdir = Path(tmp)
        bare = run_bare(workdir, args)
        hubs = [run_hub(workdir, "hub on SQLite", f"sqlite:///{workdir / 'hub.db'}", args)]
        pg = None if args.no_postgres else postgres_schema_url()
        if pg is not None:
            try:
                hubs.append(run_hub(workdir, "hub on PostgreSQL", pg[0], args))
            finally:
                drop_schema(pg[1])
        print_table([bare, *hubs])
        return verdict(hubs, bare)


if __name__ == "__main__":
    sys.exit(main())
