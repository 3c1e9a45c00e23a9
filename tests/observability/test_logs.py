"""X-Request-ID: echoed or made up, and on every JSON log line written during the request."""

import io
import json
import logging
from collections.abc import Iterator
from typing import Literal

import httpx
import pytest
from fastapi import FastAPI

from hub.observability.logs import HANDLER_NAME, configure_logging

pytestmark = pytest.mark.anyio
log = logging.getLogger("hub.tests.request")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Take the hub's handler off the root logger again after the test."""
    root = logging.getLogger()
    level = root.level
    yield
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)
    root.setLevel(level)


def lines_of(log_format: Literal["text", "json"], **fields: str) -> io.StringIO:
    """Configure logging as a process does, into a buffer the test reads."""
    configure_logging(level="info", log_format=log_format, **fields)
    ours = next(h for h in logging.getLogger().handlers if h.get_name() == HANDLER_NAME)
    assert isinstance(ours, logging.StreamHandler)
    buffer = io.StringIO()
    ours.setStream(buffer)
    return buffer


@pytest.fixture
def json_lines(restore_logging: None) -> io.StringIO:
    """Logging configured as in production (JSON)."""
    return lines_of("json", process_field="api")


@pytest.fixture
def logging_app(app: FastAPI) -> FastAPI:
    @app.get("/test-log")
    def write_a_line() -> dict[str, str]:
        log.info("handled", extra={"answer": 42})
        return {}

    return app


async def test_request_id_is_echoed_and_on_the_log_line(
    logging_app: FastAPI, json_lines: io.StringIO
) -> None:
    transport = httpx.ASGITransport(app=logging_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        given = await http.get("/test-log", headers={"X-Request-ID": "req-abc.123"})
        made = await http.get("/test-log")
    assert given.headers["X-Request-ID"] == "req-abc.123"
    made_id = made.headers["X-Request-ID"]
    assert len(made_id) == 32 and made_id != "req-abc.123"
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    handled = [line for line in lines if line["event"] == "handled"]
    assert [line["request_id"] for line in handled] == ["req-abc.123", made_id]
    first = handled[0]
    assert first["level"] == "info" and first["logger"] == "hub.tests.request"
    assert first["answer"] == 42 and first["process_field"] == "api" and first["timestamp"]


async def test_a_forged_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    forged = "bad id; with spaces"
    response = await client.get("/healthz", headers={"X-Request-ID": forged})
    assert response.headers["X-Request-ID"] != forged
    assert len(response.headers["X-Request-ID"]) == 32


async def test_error_responses_carry_the_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/feedback", headers={"X-Request-ID": "r-401"})
    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == "r-401"


def test_text_format_carries_the_bound_fields(restore_logging: None) -> None:
    buffer = lines_of("text", worker="host:1:abc")
    log.info("batch done")
    assert "batch done" in buffer.getvalue() and "worker=host:1:abc" in buffer.getvalue()
