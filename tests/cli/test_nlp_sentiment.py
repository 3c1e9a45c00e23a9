"""`nlp fine-tune-sentiment` end to end (seeds averaged, saved at a rank, checked as served),
then `nlp eval` of what it wrote and of the other offered models."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.config import get_settings
from nlp.sentiment_net import CARD, WEIGHTS

runner = CliRunner()
TRAIN = [
    {"text": "I love it, works perfectly", "label": "positive", "language": "en"},
    {"text": "Terrible, it broke after a day", "label": "negative", "language": "en"},
    {"text": "The parcel arrived on Tuesday", "label": "neutral", "language": "en"},
    {"text": "Me encanta, funciona de maravilla", "label": "positive", "language": "es"},
    {"text": "Horrible, se rompió en un día", "label": "negative", "language": "es"},
    {"text": "El paquete llegó el martes", "label": "neutral", "language": "es"},
    {"text": "Adorei, funciona perfeitamente", "label": "positive", "language": "pt"},
    {"text": "Péssimo, quebrou em um dia", "label": "negative", "language": "pt"},
]
VAL = [
    {"text": "Great service, thank you", "label": "positive", "language": "en"},
    {"text": "Awful support, never again", "label": "negative", "language": "en"},
    {"text": "Atendimento péssimo", "label": 0, "language": "pt"},
]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_fine_tune_two_seeds_then_evaluate(env: Path) -> None:
    train, val = _write(env / "train.jsonl", TRAIN), _write(env / "val.jsonl", VAL)
    out = env / "model"
    result = runner.invoke(app, [
        "nlp", "fine-tune-sentiment", "--data", str(train), "--val", str(val), "--out", str(out),
        "--epochs", "1", "--batch-size", "4", "--seeds", "2", "--save-rank", "8",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"HUB_SENTIMENT_MODEL={out}" in result.output.replace("\n", "")
    card = json.loads((out / CARD).read_text())
    assert card["config"]["seed"] == 13 and card["delta"]["rank"] == 8
    assert card["served"]["runtime"] == "onnx int8" and set(card["served"]["groups"]) == {"val"}
    assert {"floor", "margin", "held_out_micro_f1"} <= set(card["topics"])
    assert card["data"] == ["train.jsonl (8 examples)"]
    assert {p.name for p in out.iterdir()} >= {"seed-13", "seed-14", "soup", WEIGHTS, CARD}
    soup = json.loads((out / "soup" / CARD).read_text())
    assert soup["soup"] == [13, 14]

    report = runner.invoke(app, ["nlp", "eval", str(val), "--model", str(out), "--json"])
    assert report.exit_code == 0, report.output
    scores = json.loads(report.output.strip().splitlines()[-1])
    assert scores["files"]["val"]["n"] == 3 and scores["texts_per_second"] > 0
    assert scores["files"]["val"]["macro_f1"] * 100 == pytest.approx(
        card["served"]["groups"]["val"], abs=0.01
    )


def test_eval_of_the_frozen_head_and_refusals(env: Path) -> None:
    val = _write(env / "val.jsonl", VAL)
    report = runner.invoke(app, ["nlp", "eval", str(val), "--model", "frozen-head", "--json"])
    assert report.exit_code == 0, report.output
    assert json.loads(report.output.strip().splitlines()[-1])["model"].startswith("linear-head[")
    off = runner.invoke(app, ["nlp", "eval", str(val), "--model", "none"])
    assert off.exit_code != 0 and "no sentiment model" in off.output
    bad = _write(env / "bad.jsonl", [{"text": "x", "label": "angry"}])
    refused = runner.invoke(app, ["nlp", "fine-tune-sentiment", "--data", str(bad)])
    assert refused.exit_code != 0 and "bad.jsonl:1" in refused.output
    lora = runner.invoke(app, [
        "nlp", "fine-tune-sentiment", "--data", str(val), "--method", "lora", "--seeds", "2",
    ])  # fmt: skip
    assert lora.exit_code != 0 and "full fine-tuning only" in lora.output
