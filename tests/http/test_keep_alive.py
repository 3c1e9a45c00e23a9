"""After a 500 the server closes the connection, and says so: `Connection: close` on a
complete response, so a keep-alive client never sends its next request into a dead socket."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from hub.app import create_app
from hub.config import Settings
from tests.live_server import free_port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    """The hub on a real uvicorn, with one route that fails unexpectedly; yields its port."""
    app: FastAPI = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}"))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield port
    running.should_exit = True
    thread.join(timeout=10)


def exchange(port: int, path: str) -> tuple[bytes, bool]:
    """One keep-alive request: the raw response, and whether the server closed the socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: hub\r\nConnection: keep-alive\r\n\r\n".encode())
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        head, _, body = received.partition(b"\r\n\r\n")
        length = int(next(
            line.split(b":")[1] for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ))  # fmt: skip
        while len(body) < length:
            body += sock.recv(65536)
        sock.settimeout(2)
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
        return head + b"\r\n\r\n" + body, closed


def test_a_500_is_complete_and_announces_the_close(server: int) -> None:
    response, closed = exchange(server, "/boom")
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500")
    assert b"connection: close" in head.lower()
    assert json.loads(body)["error"]["code"] == "internal_error"
    assert closed


def test_other_answers_keep_the_connection(server: int) -> None:
    response, closed = exchange(server, "/healthz")
    assert response.startswith(b"HTTP/1.1 200")
    assert b"connection: close" not in response.lower()
    assert not closed
