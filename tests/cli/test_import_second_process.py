"""The import's second process: this one prepares chunks itself until it has started, then
hands them over, and the chunks come back in file order either way."""

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.feedback.importer import Line, PreparedChunk, _in_second_process

MARKER = Path(os.environ.get("TMPDIR", "/tmp")) / f"hub-import-child-{os.getpid()}"


def prepared_where(lines: list[Line]) -> PreparedChunk:
    """Which process prepared the chunk (module level, so the spawned process can run it)."""
    if not lines:  # the start-up call: say that the second process is ready
        Path(os.environ["HUB_TEST_CHILD_MARKER"]).touch()
    return PreparedChunk(len(lines), [], [{"pid": os.getpid(), "line": ln.number} for ln in lines])


def chunks_waiting_for_the_child(count: int) -> Iterator[list[Line]]:
    """Chunks; after the first, the next ones wait until the second process is up."""
    for n in range(count):
        if n == 1:
            deadline = time.monotonic() + 60
            while not MARKER.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.2)  # its answer reaches this process
        yield [Line(n * 10 + k, b"{}") for k in range(10)]


def test_chunks_start_here_move_to_the_second_process_and_keep_their_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_TEST_CHILD_MARKER", str(MARKER))
    MARKER.unlink(missing_ok=True)
    try:
        done = list(_in_second_process(prepared_where, chunks_waiting_for_the_child(20)))
    finally:
        MARKER.unlink(missing_ok=True)
    lines = [reject["line"] for chunk in done for reject in chunk.rejects]
    assert lines == list(range(200))  # file order
    where = [chunk.rejects[0]["pid"] for chunk in done]
    assert where[0] == os.getpid()  # prepared here while the other one started
    assert where[-1] != os.getpid()  # then there
    assert where == sorted(where, key=lambda pid: pid != os.getpid())  # one switch, no return
