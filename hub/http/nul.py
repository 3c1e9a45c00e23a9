"""Refuse U+0000 anywhere in a request, in one place, the same on SQLite and PostgreSQL.

One exception keeps good items safe: a NUL inside one item of an ingest batch is left to that
item's validation, which rejects the item alone while the rest of the batch is stored.

PostgreSQL cannot store NUL in text or JSONB, SQLite can: without this rule one backend
stores what the other answers 500 to. Refusing (422) rather than stripping keeps customer text
as sent, stops senders that retry 5xx forever, and leaves webhook bodies, which signatures
cover byte for byte, untouched.
"""

import re
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.types import Receive, Scope, Send

from hub.http.errors import error_response
from hub.http.middleware import HttpMiddleware, read_body, replaying

# "\u0000" in JSON, unless its backslash is itself escaped ("\\u0000" is six characters of text).
ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
FORM = b"application/x-www-form-urlencoded"
MESSAGE = "contains a NUL character (U+0000), which the hub does not store"
INGEST_PATH = "/api/v1/feedback"  # its batch items are validated, and rejected, one by one


class RefuseNul(HttpMiddleware):
    """Answer 422 to a request whose path, query or body holds U+0000, raw or escaped."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = _in_path_or_query(scope)
        if where is not None:
            await _refuse(where, scope, receive, send)
            return
        body = await read_body(receive)  # its size is bounded by BodySizeLimit
        if body is None:  # the client went away
            return
        where = _in_body(body, dict(scope["headers"]).get(b"content-type", b""))
        if where is not None and not _in_a_batch_item(scope, where):
            await _refuse(where, scope, receive, send)
            return
        await self.app(scope, replaying(body, receive), send)


def _in_a_batch_item(scope: Scope, where: list[str | int]) -> bool:
    """Whether the NUL is inside one item of an ingest batch: that item's own validation
    rejects it alone (``rejected`` in the batch result), so the other items are still stored."""
    return (
        scope["method"] == "POST"
        and scope["path"].rstrip("/") == INGEST_PATH
        and where[1:2] == ["items"]
        and len(where) > 2
        and isinstance(where[2], int)
    )


def _in_path_or_query(scope: Scope) -> list[str | int] | None:
    if "\x00" in scope["path"]:
        return ["path"]
    return _in_form(scope["query_string"], "query")


def _in_body(body: bytes, content_type: bytes) -> list[str | int] | None:
    if content_type.split(b";")[0].strip().lower() == FORM:
        return _in_form(body, "body")
    # The plain find first: the regex is slow over a large batch, and rarely needed.
    if b"\x00" in body or (b"\\u0000" in body and ESCAPED_NUL.search(body)):
        return ["body", *_json_path_to_nul(body)]
    return None


def _json_path_to_nul(body: bytes) -> list[str | int]:
    """Where in a JSON body the first NUL is (``["items", 0, "text"]``); [] if not JSON."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    pending: list[tuple[list[str | int], Any]] = [([], document)]
    while pending:  # iterative: a deep body must not cost a RecursionError
        path, value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            return path
        if isinstance(value, dict):
            if any("\x00" in key for key in value):
                return path
            pending.extend(([*path, key], child) for key, child in value.items())
        elif isinstance(value, list):
            pending.extend(([*path, index], child) for index, child in enumerate(value))
    return []


def _in_form(encoded: bytes, part: str) -> list[str | int] | None:
    """The field of a URL-encoded query or form that holds NUL (``%00`` or raw)."""
    if b"%00" not in encoded and b"\x00" not in encoded:
        return None
    for name, value in parse_qsl(encoded.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return [part, name.replace("\x00", "\\u0000")]
    return [part]


async def _refuse(where: list[str | int], scope: Scope, receive: Receive, send: Send) -> None:
    details = [{"loc": where, "message": MESSAGE}]
    response = error_response(
        422, "invalid_input", f"{'.'.join(map(str, where))}: {MESSAGE}", details
    )
    await response(scope, receive, send)
