"""File import: JSONL or CSV with the API's item fields, in committed chunks."""

import csv
import gc
import io
import json
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Engine

from hub.customers.models import CustomerDetails
from hub.errors import InvalidInput
from hub.feedback.json_input import UnstorableJson, read_json
from hub.feedback.models import IngestResult
from hub.feedback.service import PreparedItem, store_items, validate_items
from hub.lifecycle import die_with_parent
from hub.store.engine import session_scope

PARALLEL_FROM_BYTES = 4 * 1024 * 1024
UTF8_BOM = b"\xef\xbb\xbf"
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
    """One input record: its line number and what it held (JSONL bytes or a CSV row)."""

    number: int
    raw: Any
    error: str | None = None


@dataclass(slots=True)
class PreparedChunk:
    """A chunk parsed and validated, ready to store; rejects carry their reasons."""

    size: int
    items: list[PreparedItem]
    rejects: list[dict[str, Any]]


def import_file(
    engine: Engine,
    path: Path,
    *,
    source: str,
    source_kind: str = "import",
    chunk_size: int = 1000,
    on_progress: Callable[[int], None] | None = None,
    parallel: bool | None = False,
) -> ImportReport:
    """Import ``path`` chunk by chunk (each chunk one transaction); re-runs create nothing new.

    ``parallel=True`` parses and validates in a second process while this one writes; ``None``
    does so for files of 4 MiB and more (below that, starting it costs more than it saves).
    The second process is spawned, so a calling script needs an ``if __name__ == "__main__"``
    guard, as with any use of multiprocessing; the CLI has one.
    """
    fmt = file_format(path)
    if parallel is None:
        parallel = path.stat().st_size >= PARALLEL_FROM_BYTES
    report = ImportReport()
    seen_customers: dict[str, tuple[int, CustomerDetails]] = {}
    prepare = partial(prepare_chunk, source=source)
    with _few_gc_passes(), path.open("rb") as handle:
        chunks = _chunks(read_lines(handle, fmt), chunk_size)
        for chunk in _in_second_process(prepare, chunks) if parallel else map(prepare, chunks):
            with session_scope(engine) as session:
                results = store_items(
                    session,
                    items=chunk.items,
                    source_kind=source_kind,
                    seen_customers=seen_customers,
                )
            _count(report, chunk, results)
            if on_progress:
                on_progress(chunk.size)
    report.rejects_path = _write_rejects(path, fmt, report.rejects)
    return report


@contextmanager
def _few_gc_passes() -> Iterator[None]:
    """Collect garbage rarely while importing.

    An import allocates millions of short-lived, acyclic objects (parsed lines, models, rows);
    at the default threshold the cyclic collector runs every 700 allocations and its older
    generations rescan every live object (profiled: parsing took twice as long with it).
    """
    threshold = gc.get_threshold()
    gc.freeze()  # what was alive before the import is not rescanned
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def file_format(path: Path) -> str:
    """Whether a file is "jsonl" or "csv", by its name; anything else is refused."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise InvalidInput(f"{path.name}: expected a .jsonl, .ndjson or .csv file")


def count_records(path: Path) -> int:
    """How many records a file holds (for the progress bar; bad bytes are the import's to judge)."""
    if file_format(path) == "csv":
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            return max(sum(1 for _ in csv.reader(handle)) - 1, 0)
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def read_lines(handle: BinaryIO, fmt: str) -> Iterator[Line]:
    """The file's records, unparsed: JSONL lines as bytes (blank ones skipped), CSV rows."""
    if fmt == "jsonl":
        for number, data in enumerate(handle, start=1):
            if data.strip():
                yield Line(number, data.removeprefix(UTF8_BOM) if number == 1 else data)
        return
    with io.TextIOWrapper(handle, encoding="utf-8-sig", newline="") as text:
        reader = csv.DictReader(text)
        try:
            for row in reader:
                error = (
                    "the row has more cells than the header has columns" if None in row else None
                )
                yield Line(reader.line_num, row, error)
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"the CSV file is not UTF-8 after line {reader.line_num}: save it as UTF-8"
            ) from exc


def prepare_chunk(lines: list[Line], *, source: str) -> PreparedChunk:
    """Parse and validate a chunk (in this process or a second one)."""
    parsed: list[tuple[Line, Any]] = []
    rejects: list[dict[str, Any]] = []
    for line in lines:
        try:
            if line.error is not None:
                raise ValueError(line.error)
            item = read_json(line.raw) if isinstance(line.raw, bytes) else _nest(line.raw)
            parsed.append((line, item))
        except ValueError as exc:  # UnstorableJson too
            rejects.append(_reject(line, [str(exc)]))
    items, rejected = validate_items(
        [item for _, item in parsed], default_source=source, derive_external_id=True
    )
    for result in rejected:
        rejects.append(_reject(parsed[result.index][0], _reasons(result)))
    for item in items:  # positions in the file, not in the parsed subset
        item.index = parsed[item.index][0].number
    return PreparedChunk(len(lines), items, rejects)


def _nest(row: dict[str, str | None]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for column, cell in row.items():
        if cell is None or not cell.strip():
            continue
        value: Any = cell
        if column in JSON_COLUMNS and cell.lstrip().startswith(("{", "[")):
            try:
                value = read_json(cell.encode())
            except UnstorableJson as exc:
                raise ValueError(f"column {column!r}: {exc}") from exc
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


def _in_second_process(
    prepare: Callable[[list[Line]], PreparedChunk], chunks: Iterator[list[Line]], depth: int = 3
) -> Iterator[PreparedChunk]:
    """Prepare chunks in a second process, a few ahead, while this one writes; in file order.

    Parsing and validation are CPU work and the database write is mostly the database's, so on
    two cores they overlap. (A thread cannot do this: the GIL would serialise the Python parts.)
    The second process needs a second or two to start and import the hub; until it is ready,
    this one prepares the chunks itself instead of waiting.
    """
    with ProcessPoolExecutor(
        max_workers=1,
        mp_context=get_context("spawn"),
        initializer=die_with_parent,  # no orphan if this process is killed
        initargs=(os.getpid(),),
    ) as pool:
        ready = pool.submit(prepare, [])  # starts it, importing what ``prepare`` needs
        for chunk in chunks:
            yield prepare(chunk)
            if ready.done():
                ready.result()  # a failed start is an error here, not a silent fallback
                break
        pending: deque[Future[PreparedChunk]] = deque()
        for chunk in chunks:
            pending.append(pool.submit(prepare, chunk))
            if len(pending) >= depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _count(report: ImportReport, chunk: PreparedChunk, results: list[IngestResult]) -> None:
    created = sum(1 for result in results if result.status == "created")
    report.created += created
    report.duplicate += len(results) - created
    report.rejected += len(chunk.rejects)
    report.rejects.extend(chunk.rejects)


def _reject(line: Line, reasons: list[str]) -> dict[str, Any]:
    return {"line": line.number, "errors": reasons, "input": _as_given(line.raw)}


def _as_given(raw: Any) -> Any:
    """A rejected record as it was given: a JSONL line as text, a CSV row as its cells."""
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace").rstrip("\r\n")
    return raw


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
