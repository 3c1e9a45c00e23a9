"""CSV responses for exports: flat columns, dates as ISO text, and no spreadsheet formulas.

Feedback text is untrusted: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is prefixed with ``'`` so a spreadsheet shows it as text instead of running it (OWASP's
advice on CSV injection). Numbers stay numbers.
"""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from enum import StrEnum
from typing import Any

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from hub.errors import InvalidInput

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_TYPE = "text/csv; charset=utf-8"


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
    return Response(buffer.getvalue(), media_type=CSV_TYPE, headers=_download(name))


def csv_stream(
    name: str, columns: Sequence[str], chunks: Iterable[Iterable[dict[str, Any]]]
) -> StreamingResponse:
    """Rows as a CSV download sent chunk by chunk, so a large export never sits in memory.

    ``columns`` fixes the header (rows may leave a column out; nested dicts are flattened as in
    ``csv_response``). Each chunk is written once the previous one is on its way."""
    return StreamingResponse(
        _csv_lines(columns, chunks), media_type=CSV_TYPE, headers=_download(name)
    )


def refuse_oversized(matching: int, *, max_rows: int) -> None:
    """A 422 when an export would hold more than ``max_rows`` rows (``HUB_EXPORT_MAX_ROWS``)."""
    if matching > max_rows:
        raise InvalidInput(
            f"{matching:,} rows match, and a CSV export holds at most {max_rows:,}: "
            "narrow the filters",
            details=[{"loc": ["query"], "message": f"more than {max_rows} rows"}],
        )


def _csv_lines(columns: Sequence[str], chunks: Iterable[Iterable[dict[str, Any]]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", restval="")
    writer.writeheader()
    for chunk in chunks:
        writer.writerows(flatten(row) for row in chunk)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # nothing matched: the header alone
        yield buffer.getvalue()


def _download(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}.csv"'}


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
