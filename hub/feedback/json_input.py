"""Read JSON input so that one item the hub cannot store is rejected alone, not its batch.

The fast path is one ``orjson.loads`` of the whole body. Only when that fails is a batch split
into the byte spans of its top-level values and of its ``items``, without recursion (10,000
nested arrays are fine), and each span read on its own.
"""

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

from hub.errors import InvalidInput, MalformedJson

# A JSON string (escapes included) or a structural character; everything else is a scalar.
TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},:]', re.DOTALL)
CLOSING = {b"]": b"[", b"}": b"{"}
# orjson reads integers beyond 64 bits as floats, silently; only digit runs this long can be.
# Found as a run of zeros once every digit is one: ten times faster than a regex (hot on import).
ALL_DIGITS_ZERO = bytes.maketrans(b"123456789", b"0" * 9)
LONG_DIGITS = b"0" * 19
INT_RANGE = (-(2**63), 2**64 - 1)


class UnstorableJson(ValueError):
    """JSON the hub cannot store: ``syntax`` when it is not JSON at all, else a value is."""

    def __init__(self, reason: str, *, syntax: bool) -> None:
        super().__init__(reason)
        self.syntax = syntax


@dataclass(frozen=True, slots=True)
class UnreadableItem:
    """An item of a batch that is not JSON the hub can store, and why."""

    reason: str


def read_json(data: bytes) -> Any:
    """One JSON document, refusing what would not survive storage: integers beyond 64 bits,
    floats beyond double range (``1e400``), ``NaN``, nesting deeper than 1024 levels."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _unstorable(exc) from exc
    if LONG_DIGITS in data.translate(ALL_DIGITS_ZERO):
        try:
            json.loads(data, parse_int=_int_in_range)
        except RecursionError as exc:
            raise UnstorableJson("nested too deeply", syntax=False) from exc
        except UnstorableJson:
            raise
        except ValueError as exc:  # what orjson reads and json does not (a byte order mark)
            raise UnstorableJson(f"not valid JSON: {exc}", syntax=True) from exc
    return value


def load_body(body: bytes) -> Any:
    """The parsed request body; a batch's unstorable items become :class:`UnreadableItem`.

    Raises :class:`MalformedJson` (not JSON) or :class:`InvalidInput` (a value the hub cannot
    store) when the body is not a batch whose structure can be read around its bad items.
    """
    try:
        return read_json(body)
    except UnstorableJson as exc:
        batch = _split_batch(body)
        if batch is None:
            raise _body_error(exc) from exc
        fields, item_spans = batch
        try:
            payload = {name: read_json(span) for name, span in fields.items()}
        except UnstorableJson as field_exc:
            raise _body_error(field_exc) from field_exc
        payload["items"] = [_read_item(span) for span in item_spans]
        return payload


def _read_item(span: bytes) -> Any:
    try:
        return read_json(span)
    except UnstorableJson as exc:
        return UnreadableItem(str(exc))


def _int_in_range(digits: str) -> int:
    # Length first: int() refuses more than 4,300 digits with an error of its own.
    if len(digits) > 20 or not INT_RANGE[0] <= int(digits) <= INT_RANGE[1]:
        shown = digits if len(digits) <= 30 else f"{digits[:27]}..."
        raise UnstorableJson(f"the integer {shown} is out of range (64 bits)", syntax=False)
    return int(digits)


def _unstorable(exc: orjson.JSONDecodeError) -> UnstorableJson:
    """orjson's error in words a sender can act on."""
    if exc.msg == "depth limit exceeded":
        return UnstorableJson("nested too deeply (at most 1024 levels)", syntax=False)
    if exc.msg.startswith("number is infinity"):
        return UnstorableJson("a number is out of range (at most about 1.8e308)", syntax=False)
    if exc.msg.endswith("surrogate in string"):
        return UnstorableJson(
            "a string holds a lone UTF-16 surrogate (\\ud800-\\udfff)", syntax=False
        )
    where = f"line {exc.lineno}, column {exc.colno}"
    return UnstorableJson(f"not valid JSON: {exc.msg} ({where})", syntax=True)


def _body_error(exc: UnstorableJson) -> MalformedJson | InvalidInput:
    if exc.syntax:
        return MalformedJson(f"the body is {exc}")
    return InvalidInput(f"the body holds JSON the hub cannot store: {exc}")


def _split_batch(body: bytes) -> tuple[dict[str, bytes], list[bytes]] | None:
    """``{"items": [...], ...}`` as the spans of its top-level values and of its items.

    ``None`` when the body is not an object with an ``items`` list, or its brackets or
    separators do not add up: then there is no telling where one item ends.
    """
    stripped = body.strip()
    if not stripped.startswith(b"{") or not stripped.endswith(b"}"):
        return None
    fields: dict[str, bytes] = {}
    items: list[bytes] | None = None
    stack: list[bytes] = []
    key: str | None = None
    value_start = 0
    for match in TOKEN.finditer(stripped):
        token, start, end = match.group(), match.start(), match.end()
        depth = len(stack)
        if token in (b"[", b"{"):
            stack.append(token)
            if depth == 1 and key == "items" and token == b"[" and items is None:
                items, value_start = [], end
        elif token in CLOSING:
            if not stack or stack.pop() != CLOSING[token]:
                return None
            if depth == 2 and items is not None and key == "items":
                if not _append_span(items, stripped[value_start:start], closing=True):
                    return None
                key = None
            elif depth == 1:
                if key is not None:
                    fields[key] = stripped[value_start:start]
                if end != len(stripped):
                    return None
        elif depth == 1 and token.startswith(b'"') and key is None:
            key = orjson.loads(token)
        elif depth == 1 and token == b":":
            value_start = end
        elif depth == 1 and token == b"," and key is not None:
            fields[key], key = stripped[value_start:start], None
        elif depth == 2 and token == b"," and key == "items" and items is not None:
            if not _append_span(items, stripped[value_start:start], closing=False):
                return None
            value_start = end
    if stack or items is None:
        return None
    fields.pop("items", None)
    return fields, items


def _append_span(items: list[bytes], span: bytes, *, closing: bool) -> bool:
    """Add an item's span; an empty one is fine only as the inside of ``[]``."""
    if span.strip():
        items.append(span)
        return True
    return closing and not items
