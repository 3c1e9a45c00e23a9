"""Validators for values both backends can store: PostgreSQL refuses what SQLite would keep."""

import json
from datetime import date
from typing import Any

import orjson

MAX_JSON_BYTES = 64 * 1024
# Dates the hub takes: far enough from years 1 and 9999 that window arithmetic (a baseline
# before, a day after) and time-zone shifts cannot overflow.
EARLIEST, LATEST = date(1900, 1, 1), date(9000, 12, 31)


def no_nul(value: str) -> str:
    """Refuse NUL characters: PostgreSQL cannot store them in text."""
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


def storable_json(value: dict[str, Any]) -> dict[str, Any]:
    """Refuse JSON that would fail or change on the way to a JSON/JSONB column."""
    try:
        encoded = orjson.dumps(value, default=str)
    except orjson.JSONEncodeError as exc:  # nested too deeply, an integer beyond 64 bits
        raise ValueError(f"cannot be stored as JSON: {exc}") from exc
    if len(encoded) > MAX_JSON_BYTES:
        raise ValueError(f"is larger than {MAX_JSON_BYTES // 1024} KiB once encoded")
    if b"\\u0000" in encoded:
        raise ValueError("contains a NUL character")
    # orjson writes NaN and infinities as null; a null then costs the exact check.
    if b"null" in encoded and not _finite(value):
        raise ValueError("holds NaN or an infinite number")
    return value


def _finite(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False, default=str)
    except ValueError:
        return False
    return True
