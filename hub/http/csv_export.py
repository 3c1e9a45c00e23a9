"""CSV responses for exports: flat columns, dates as ISO text, and no spreadsheet formulas.

Feedback text is untrusted: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is prefixed with ``'`` so a spreadsheet shows it as text instead of running it (OWASP's
advice on CSV injection). Numbers stay numbers.
"""

import csv
import io
from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from typing import Any

from fastapi import Request
from fastapi.responses import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Format(StrEnum):
    json = "json"
    csv = "csv"


def wants_csv(request: Request, format: Format | None) -> bool:
    """``format=csv`` asks for CSV; without ``format``, an ``Accept: text/csv`` header does."""
    if format is not None:
        return format is Format.csv
    return "text/csv" in request.headers.get("accept", "")


def csv_response(name: str, rows: Iterable[dict[str, Any]]) -> Response:
    """Rows as a CSV download named ``name.csv``; nested dicts become one column per key."""
    flat = [flatten(row) for row in rows]
    columns = list(dict.fromkeys(column for row in flat for column in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


def flatten(row: dict[str, Any]) -> dict[str, Any]:
    """One CSV row: ``{"a": {"b": 1}}`` becomes ``{"a_b": 1}``; lists are joined with ``; ``."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            flat |= {f"{key}_{inner}": cell(item) for inner, item in value.items()}
        else:
            flat[key] = cell(value)
    return flat


def cell(value: Any) -> Any:
    """One safe cell value."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        value = "; ".join(str(cell(item)) for item in value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
