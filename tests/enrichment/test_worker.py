"""The worker end to end: real language models, failures isolated, kill -9 loses nothing."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select
from typer.testing import CliRunner

from hub.cli import app as cli
from hub.config import Settings
from hub.enrichment.worker import Worker
from hub.feedback.models import Feedback
from hub.feedback.service import ingest
from hub.store.engine import session_scope
from nlp.language import LinguaDetector
from nlp.pipeline import Pipeline
from tests.factories import item


def _language_only(settings: Settings) -> Callable[[Session], Pipeline]:
    pipeline = Pipeline(language=LinguaDetector(settings.language_codes))
    return lambda _session: pipeline


def _seed(db, texts: Sequence[str]) -> None:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        ingest(session, raw_items=[item(text=text) for text in texts])


def _states(db) -> dict[str, tuple[str, str | None, int]]:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        rows = session.exec(select(Feedback)).all()
    return {row.text or "": (row.nlp_state, row.language, row.nlp_attempts) for row in rows}


def test_worker_detects_languages_and_marks_items_done(db) -> None:  # type: ignore[no-untyped-def]
    _seed(
        db,
        [
            "The delivery was late again",
            "Me cobraron dos veces",
            "O aplicativo não abre desde a atualização",
            "ok",
        ],
    )
    settings = Settings(database_url=db.url, worker_batch_size=3)
    worker = Worker(db.engine, settings, _language_only(settings))
    assert worker.run_once() == 3
    assert worker.run_once() == 1
    assert worker.run_once() == 0
    assert _states(db) == {
        "The delivery was late again": ("done", "en", 1),
        "Me cobraron dos veces": ("done", "es", 1),
        "O aplicativo não abre desde a atualização": ("done", "pt", 1),
        "ok": ("done", "unknown", 1),
    }
    with session_scope(db.engine) as session:
        models = set(session.exec(select(Feedback.nlp_model)).all())
    assert models == {"language=lingua[de,en,es,fr,it,pt]"}


class Exploding:
    """A language detector that fails on texts containing "boom" (a broken model, say)."""

    name = "exploding"

    def detect(self, texts: Sequence[str], hints: Sequence[str | None] | None = None) -> list[str]:
        if any("boom" in text for text in texts):
            raise RuntimeError("model crashed")
        return ["en"] * len(texts)


def test_one_bad_item_does_not_hold_up_its_batch(db) -> None:  # type: ignore[no-untyped-def]
    _seed(db, ["fine one", "boom", "fine two"])
    settings = Settings(database_url=db.url, worker_max_attempts=2, worker_poll_seconds=0.001)
    worker = Worker(db.engine, settings, lambda _session: Pipeline(language=Exploding()))
    worker.run_once()
    assert _states(db) == {
        "fine one": ("done", "en", 1),
        "fine two": ("done", "en", 1),
        "boom": ("pending", None, 1),
    }
    time.sleep(0.05)  # the retry back-off (10 polls)
    worker.run_once()
    assert _states(db)["boom"] == ("failed", None, 2)
    with session_scope(db.engine) as session:
        error = session.exec(select(Feedback.nlp_error).where(Feedback.text == "boom")).one()
    assert error == "RuntimeError: model crashed"


def test_reprocess_sends_items_back(cli_env: Path, db) -> None:  # type: ignore[no-untyped-def]
    _seed(db, ["one", "two"])
    settings = Settings(database_url=db.url)
    Worker(db.engine, settings, _language_only(settings)).run_once()
    result = CliRunner().invoke(cli, ["nlp", "reprocess", "--no-run"])
    assert "2 items queued" in result.output
    assert {state for state, _, _ in _states(db).values()} == {"pending"}
    future = CliRunner().invoke(cli, ["nlp", "reprocess", "--since", "2999-01-01"])
    assert "0 items queued" in future.output


def test_reprocess_re_scores_with_a_progress_bar(  # type: ignore[no-untyped-def]
    cli_env: Path, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(db, ["The delivery was late again", "Me cobraron dos veces"])
    monkeypatch.setenv("HUB_EMBEDDING_MODEL", "use")  # fast; sentiment is not what is tested
    monkeypatch.setenv("HUB_SENTIMENT_MODEL", "none")
    result = CliRunner().invoke(cli, ["nlp", "reprocess"])
    assert result.exit_code == 0, result.output
    assert "2 items queued" in result.output and "2 items re-scored" in result.output
    assert {state for state, _, _ in _states(db).values()} == {"done"}


def test_worker_killed_mid_batch_loses_nothing(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    total = 1_200
    _seed(db, [f"The parcel number {n} arrived late and damaged" for n in range(total)])
    env = {
        **os.environ,
        "HUB_DATABASE_URL": db.url,
        "HUB_WORKER_BATCH_SIZE": "400",
        "HUB_WORKER_LEASE_SECONDS": "1",
        "HUB_EMBEDDING_MODEL": "use",  # the fast embedder: 1,200 items in seconds
        "HUB_SENTIMENT_MODEL": "none",
        "HUB_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "hub.cli", "worker"]
    victim = subprocess.Popen(command, env=env, cwd=tmp_path)
    try:
        _wait_for_a_claim_in_progress(db)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
    with session_scope(db.engine) as session:
        orphaned = session.exec(
            select(func.count()).where(Feedback.nlp_lease_owner.is_not(None))  # type: ignore[union-attr]
        ).one()
    assert orphaned > 0, "the worker was not killed mid-batch"

    time.sleep(1.1)  # its lease expires
    rescue = subprocess.run([*command, "--once"], env=env, cwd=tmp_path, timeout=120, check=True)
    assert rescue.returncode == 0
    states = _states(db)
    assert len(states) == total
    assert {state for state, _, _ in states.values()} == {"done"}
    assert {language for _, language, _ in states.values()} == {"en"}
    attempts = [n for _, _, n in states.values()]
    assert set(attempts) <= {1, 2}
    assert attempts.count(2) == orphaned  # exactly the items the killed worker held, redone once


def _wait_for_a_claim_in_progress(db, timeout: float = 180) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(db.engine) as session:
            held = session.exec(
                select(func.count()).where(Feedback.nlp_lease_owner.is_not(None))  # type: ignore[union-attr]
            ).one()
        if held:
            return
        time.sleep(0.005)
    pytest.fail("the worker never claimed a batch")


def test_worker_assigns_topics_and_follows_taxonomy_changes(db) -> None:  # type: ignore[no-untyped-def]
    from hub.enrichment.pipeline import PipelineLoader
    from hub.topics.models import TopicUpdate
    from hub.topics.service import seed_topics, topics_of, update_topic

    with session_scope(db.engine) as session:
        seed_topics(session)
    _seed(db, ["They charged my card twice this month", "O entregador chegou três horas atrasado"])
    settings = Settings(database_url=db.url, embedding_model="use", sentiment_model="none")
    loader = PipelineLoader(settings)
    Worker(db.engine, settings, loader).run_once()
    with session_scope(db.engine) as session:
        rows = session.exec(select(Feedback)).all()
        topics = topics_of(session, feedback_ids=[r.id for r in rows])  # type: ignore[misc]
        first = loader(session)
        update_topic(session, key="billing", data=TopicUpdate(description="Charges and invoices"))
    by_text = {row.text: [t.key for t in topics.get(row.id, [])] for row in rows}  # type: ignore[arg-type]
    assert by_text["They charged my card twice this month"][0] == "billing"
    assert by_text["O entregador chegou três horas atrasado"][0] == "delivery"
    assert all(row.nlp_model and "embedder=use-multilingual-v3" in row.nlp_model for row in rows)
    with session_scope(db.engine) as session:
        assert loader(session) is not first  # rebuilt for the edited taxonomy
        assert loader(session) is loader(session)


def test_a_failing_batch_does_not_stop_the_worker(db) -> None:  # type: ignore[no-untyped-def]
    from threading import Event, Thread

    _seed(db, ["The delivery was late again"])
    settings = Settings(database_url=db.url, worker_poll_seconds=0.01)
    working = _language_only(settings)
    calls = []

    def flaky(session: Session) -> Pipeline:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database restarting")
        return working(session)

    stop = Event()
    thread = Thread(target=Worker(db.engine, settings, flaky).run, args=(stop,))
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _states(db)["The delivery was late again"][0] != "done":
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=10)
    assert _states(db)["The delivery was late again"] == ("done", "en", 1)
    assert len(calls) >= 2
