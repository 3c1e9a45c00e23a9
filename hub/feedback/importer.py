"""File import: JSONL or CSV with the API's item fields, in committed chunks."""

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson
from sqlalchemy import Engine

from hub.errors import InvalidInput
from hub.feedback.models import IngestResult
from hub.feedback.service import ingest
from hub.store.engine import session_scope

JSON_COLUMNS = {"metadata", "answers", "customer", "customer.attributes"}


@dataclass
class ImportReport:
    """Counts of one import and where the rejected lines were written."""

    created: int = 0
    duplicate: int = 0
    rejected: int = 0
    rejects_path: Path | None = None
    rejects: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Line:
    """One input record: its line number, the raw text (for the rejects file) and the item."""

    number: int
    raw: Any
    item: Any = None
    error: str | None = None


def import_file(
    engine: Engine,
    path: Path,
    *,
    source: str,
    source_kind: str = "import",
    chunk_size: int = 1000,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import ``path`` chunk by chunk (each chunk one transaction); re-runs create nothing new."""
    fmt = file_format(path)
    report = ImportReport()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        lines = read_jsonl(handle) if fmt == "jsonl" else read_csv(handle)
        for chunk in _chunks(lines, chunk_size):
            _import_chunk(engine, chunk, source=source, source_kind=source_kind, report=report)
            if on_progress:
                on_progress(len(chunk))
    report.rejects_path = _write_rejects(path, fmt, report.rejects)
    return report


def file_format(path: Path) -> str:
    """ "jsonl" or "csv", from the file name."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise InvalidInput(f"{path.name}: expected a .jsonl, .ndjson or .csv file")


def count_records(path: Path) -> int:
    """How many records a file holds (for the progress bar)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if file_format(path) == "csv":
            return max(sum(1 for _ in csv.reader(handle)) - 1, 0)
        return sum(1 for line in handle if line.strip())


def read_jsonl(handle: TextIO) -> Iterator[Line]:
    """One item per non-blank line; a line that is not a JSON object is an error line."""
    for number, text in enumerate(handle, start=1):
        try:
            yield Line(number, text, item=orjson.loads(text))
        except orjson.JSONDecodeError as exc:
            if text.strip():
                message = f"not valid JSON: {exc.msg} at column {exc.colno}"
                yield Line(number, text.rstrip("\n"), error=message)


def read_csv(handle: TextIO) -> Iterator[Line]:
    """One item per row; dotted headers nest (``customer.email``), JSON cells are parsed."""
    reader = csv.DictReader(handle)
    for row in reader:
        number = reader.line_num
        if None in row:
            yield Line(number, row, error="the row has more cells than the header has columns")
            continue
        try:
            yield Line(number, row, item=_nest(row))
        except ValueError as exc:
            yield Line(number, row, error=str(exc))


def _nest(row: dict[str, str | None]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for column, cell in row.items():
        if cell is None or not cell.strip():
            continue
        value: Any = cell
        if column in JSON_COLUMNS and cell.lstrip().startswith(("{", "[")):
            try:
                value = json.loads(cell)
            except json.JSONDecodeError as exc:
                raise ValueError(f"column {column!r} is not valid JSON: {exc.msg}") from exc
        target = item
        *parents, leaf = column.strip().split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
            if not isinstance(target, dict):
                raise ValueError(f"column {column!r} clashes with column {parent!r}")
        target[leaf] = value
    return item


def _chunks(lines: Iterator[Line], size: int) -> Iterator[list[Line]]:
    chunk: list[Line] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _import_chunk(
    engine: Engine, chunk: list[Line], *, source: str, source_kind: str, report: ImportReport
) -> None:
    parsed = [line for line in chunk if line.error is None]
    for line in chunk:
        if line.error is not None:
            report.rejected += 1
            report.rejects.append({"line": line.number, "errors": [line.error], "input": line.raw})
    with session_scope(engine) as session:
        summary = ingest(
            session,
            raw_items=[line.item for line in parsed],
            source_kind=source_kind,
            default_source=source,
            derive_external_id=True,
        )
    report.created += summary.created
    report.duplicate += summary.duplicate
    report.rejected += summary.rejected
    for result in summary.results:
        if result.status == "rejected":
            line = parsed[result.index]
            report.rejects.append(
                {"line": line.number, "errors": _reasons(result), "input": _as_given(line.raw)}
            )


def _as_given(raw: Any) -> Any:
    return raw.rstrip("\n") if isinstance(raw, str) else raw


def _reasons(result: IngestResult) -> list[str]:
    return [
        f"{'.'.join(str(part) for part in error.loc) or 'item'}: {error.message}"
        for error in result.errors or []
    ]


def _write_rejects(path: Path, fmt: str, rejects: list[dict[str, Any]]) -> Path | None:
    """Rejected records with their reasons, next to the input; removed when there are none."""
    target = path.with_name(f"{path.name}.rejected.{'csv' if fmt == 'csv' else 'jsonl'}")
    if not rejects:
        target.unlink(missing_ok=True)
        return None
    rejects.sort(key=lambda reject: reject["line"])
    with target.open("w", encoding="utf-8", newline="") as out:
        if fmt == "csv":
            columns = [
                "line",
                "errors",
                *dict.fromkeys(k for r in rejects for k in r["input"] if k),
            ]
            writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for reject in rejects:
                writer.writerow(
                    {
                        **reject["input"],
                        "line": reject["line"],
                        "errors": "; ".join(reject["errors"]),
                    }
                )
        else:
            for reject in rejects:
                out.write(json.dumps(reject, ensure_ascii=False) + "\n")
    return target
