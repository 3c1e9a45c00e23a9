"""A real `feedback-hub serve` process on a free port, for browser and end-to-end tests."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import Engine

from hub.auth.service import create_key
from hub.store.engine import make_engine, session_scope
from hub.store.migrate import upgrade
from hub.users.models import Role, UserCreate
from hub.users.service import create_user

CLI = [sys.executable, "-m", "hub.cli"]
T = TypeVar("T")
STOP_SECONDS = 3  # a graceful stop's share of a test run's teardown


@dataclass
class LiveServer:
    """Where the server listens, an ingest+read key, and an admin who can sign in."""

    base_url: str
    key: str
    log: Path
    email: str = "admin@cestia.example"
    password: str = "browser-test-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(workdir: Path, *, demo: bool = False) -> Iterator[LiveServer]:
    """Start the hub on a fresh SQLite file in ``workdir``; stop it afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "HUB_DATABASE_URL": f"sqlite:///{workdir / 'hub.db'}",
        "HUB_LOG_LEVEL": "warning",
    }
    key = _prepare_database(env["HUB_DATABASE_URL"])
    log = workdir / "serve.log"
    args = [*CLI, "serve", "--port", str(port), *(["--demo"] if demo else [])]
    with log.open("w") as out:
        process = subprocess.Popen(
            args, env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, with the worker it starts
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base_url, process, log)
        yield LiveServer(base_url, key, log)
    finally:
        _stop(process)


@contextmanager
def seeded_server(workdir: Path, seed: Callable[[Engine], T]) -> Iterator[tuple[LiveServer, T]]:
    """The hub without its worker (nothing re-routes or re-scores behind a test's back), with
    ``seed`` run on its database once it is up; yields the server and what ``seed`` returned."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUB_WORKER_IN_SERVE", "false")
        with live_server(workdir) as server:
            engine = make_engine(f"sqlite:///{workdir / 'hub.db'}")
            try:
                seeded = seed(engine)
            finally:
                engine.dispose()
            yield server, seeded


def _prepare_database(url: str) -> str:
    """Migrate, make an ingest+read key and the admin, in this process (a CLI process per step
    cost seconds each); returns the key."""
    admin = LiveServer
    engine = make_engine(url)
    try:
        upgrade(engine)
        with session_scope(engine) as session:
            key = create_key(session, name="e2e", scopes=["ingest", "read"]).key
            data = UserCreate(
                email=admin.email, password=admin.password, role=Role.admin, name="Ada Admin"
            )
            create_user(session, data=data)
        return key
    finally:
        engine.dispose()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and everything it started (its process group): SIGTERM, and SIGKILL for
    what is still running after a few seconds (a worker still loading its models finishes that
    first; graceful stops are tested in tests/cli/test_lifecycle.py). Always reaped."""
    os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_SECONDS)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _wait_until_up(base_url: str, process: subprocess.Popen, log: Path) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not come up in 120 s:\n{log.read_text()}")
