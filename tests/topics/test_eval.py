"""`feedback-hub nlp eval-topics`: K examples per topic from a train file, scored on a test file."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app

THEMES = {
    "billing": [
        "charged twice on my card",
        "wrong amount on the invoice",
        "me cobraron dos veces",
        "cobrança duplicada no cartão",
        "the bill was higher than the order",
    ],
    "delivery": [
        "the courier came three hours late",
        "my parcel never arrived",
        "el pedido llegó tarde",
        "a entrega atrasou de novo",
        "driver left the box at the wrong door",
    ],
    "login": [
        "cannot log in to my account",
        "password reset email never arrives",
        "no puedo entrar en mi cuenta",
        "não consigo fazer login",
        "the SMS code never comes",
    ],
}


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_eval_topics_reports_accuracy_and_f1(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.config import get_settings

    monkeypatch.setenv("HUB_EMBEDDING_MODEL", "use")
    get_settings.cache_clear()
    train = _write(
        cli_env / "train.jsonl",
        [{"text": t, "label": k} for k, ts in THEMES.items() for t in ts[:4]],
    )
    test = _write(
        cli_env / "test.jsonl", [{"text": ts[4], "labels": [k]} for k, ts in THEMES.items()]
    )
    result = CliRunner().invoke(
        app, ["nlp", "eval-topics", str(test), "--train", str(train), "--shots", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["n"], report["topics"], report["shots"]) == (3, 3, 2)
    assert 0 <= report["micro_f1"] <= 1
    assert report["top1_accuracy"] >= 2 / 3


def test_bad_lines_name_the_file_and_line(cli_env: Path) -> None:
    bad = cli_env / "bad.jsonl"
    bad.write_text('{"text": "ok", "label": "a"}\n{"txt": "no"}\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["nlp", "eval-topics", str(bad), "--train", str(bad)])
    assert result.exit_code == 2
    assert "bad.jsonl:2" in result.output
