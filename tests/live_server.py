"""A real `feedback-hub serve` process on a free port, for browser and end-to-end tests."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import Engine

from hub.store.engine import make_engine

CLI = [sys.executable, "-m", "hub.cli"]
T = TypeVar("T")


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
    created = subprocess.run(
        [*CLI, "keys", "create", "--name", "e2e", "--scope", "ingest", "--scope", "read", "--json"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    key = json.loads(created.stdout)["key"]
    admin = LiveServer("", "", Path())
    subprocess.run(
        [*CLI, "users", "create", "--email", admin.email, "--password", admin.password,
         "--role", "admin", "--name", "Ada Admin"],
        env=env, cwd=workdir, capture_output=True, text=True, check=True,
    )  # fmt: skip
    log = workdir / "serve.log"
    args = [*CLI, "serve", "--port", str(port), *(["--demo"] if demo else [])]
    with log.open("w") as out:
        process = subprocess.Popen(args, env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base_url, process, log)
        yield LiveServer(base_url, key, log)
    finally:
        process.terminate()
        process.wait(timeout=20)


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
