"""The worker heartbeat row, its thread, and `feedback-hub worker-health`."""

import socket
import threading
from datetime import timedelta
from pathlib import Path

from sqlmodel import select
from typer.testing import CliRunner

from hub.cli import app
from hub.observability.heartbeat import PRUNE_AFTER, Heartbeat, start_heartbeat_thread
from hub.observability.models import WorkerHeartbeat
from hub.store.engine import session_scope
from hub.store.types import utcnow
from tests.conftest import Database

runner = CliRunner()


def rows(db: Database) -> list[WorkerHeartbeat]:
    with session_scope(db.engine) as session:
        return list(session.exec(select(WorkerHeartbeat)).all())


def test_a_beat_writes_then_refreshes_one_row(db: Database) -> None:
    heartbeat = Heartbeat(db.engine, "host:1:aaaaaa", roles="nlp,notify")
    heartbeat.beat()
    [first] = rows(db)
    assert (first.owner, first.roles, first.hostname) == (
        "host:1:aaaaaa", "nlp,notify", socket.gethostname()
    )  # fmt: skip
    assert first.last_batch_at is None
    heartbeat.record_batch(64, 1.5)
    heartbeat.beat()
    [second] = rows(db)
    assert second.id == first.id and second.beat_at > first.beat_at
    assert (second.last_batch_items, second.last_batch_seconds) == (64, 1.5)
    heartbeat.remove()
    assert rows(db) == []


def test_rows_of_long_dead_workers_are_pruned(db: Database) -> None:
    dead = WorkerHeartbeat(owner="gone:2:bbbbbb", hostname="gone", pid=2, roles="nlp",
                           beat_at=utcnow() - PRUNE_AFTER - timedelta(minutes=1))  # fmt: skip
    stale = WorkerHeartbeat(owner="stale:3:cccccc", hostname="stale", pid=3, roles="nlp",
                            beat_at=utcnow() - timedelta(minutes=10))  # fmt: skip
    with session_scope(db.engine) as session:
        session.add_all([dead, stale])
    Heartbeat(db.engine, "live:4:dddddd").beat()
    assert sorted(row.owner for row in rows(db)) == ["live:4:dddddd", "stale:3:cccccc"]


def test_the_thread_beats_until_stopped_then_removes_its_row(db: Database) -> None:
    stop = threading.Event()
    thread = start_heartbeat_thread(Heartbeat(db.engine, "t:5:eeeeee"), every=0.05, stop=stop)
    try:
        first = _wait_for_row(db)
        _wait_for_row(db, newer_than=first)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert rows(db) == []


def _wait_for_row(db: Database, newer_than: WorkerHeartbeat | None = None) -> WorkerHeartbeat:
    for _ in range(200):
        found = rows(db)
        if found and (newer_than is None or found[0].beat_at > newer_than.beat_at):
            return found[0]
        threading.Event().wait(0.02)
    raise AssertionError("no (new) heartbeat within 4 s")


def test_worker_health_exit_codes(db: Database, cli_env: Path) -> None:
    missing = runner.invoke(app, ["worker-health"])
    assert missing.exit_code == 1
    assert f"no worker heartbeat from {socket.gethostname()}" in missing.output

    with session_scope(db.engine) as session:
        session.add(WorkerHeartbeat(owner="other:1:ffffff", hostname="another-host", pid=1,
                                    roles="nlp"))  # fmt: skip
    assert runner.invoke(app, ["worker-health"]).exit_code == 1  # another host's worker

    heartbeat = Heartbeat(db.engine, "here:1:gggggg")
    heartbeat.beat()
    healthy = runner.invoke(app, ["worker-health"])
    assert healthy.exit_code == 0, healthy.output
    assert "healthy" in healthy.output

    with session_scope(db.engine) as session:
        row = session.exec(
            select(WorkerHeartbeat).where(WorkerHeartbeat.owner == "here:1:gggggg")
        ).one()
        row.beat_at = utcnow() - timedelta(seconds=90)
    old = runner.invoke(app, ["worker-health", "--max-age", "60"])
    assert old.exit_code == 1 and "s ago" in old.output
    assert runner.invoke(app, ["worker-health", "--max-age", "120"]).exit_code == 0


def test_worker_health_fails_when_the_database_is_down(cli_env: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from hub.config import get_settings

    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{cli_env / 'no-such-dir' / 'hub.db'}")
    get_settings.cache_clear()
    down = runner.invoke(app, ["worker-health"])
    assert down.exit_code == 1 and "did not answer" in down.output
