"""`feedback-hub nlp eval-language`: accuracy per language on labelled JSONL (no database)."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.config import get_settings

runner = CliRunner()

ROWS = [
    {"text": "The courier left my parcel in the rain again", "language": "en"},
    {"text": "Support never answered my e-mail about the refund", "language": "en"},
    {"text": "ok", "language": "en"},  # shorter than --min-chars: not counted
    {"text": "La aplicación se cierra cada vez que intento pagar", "language": "es"},
    {"text": "O aplicativo não abre desde a última atualização", "language": "pt"},
    {"text": "Привет, как дела? Всё хорошо, спасибо большое!", "language": "pt"},
]


@pytest.fixture
def languages(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HUB_NLP_LANGUAGES", "en,es,pt,fr,de,it")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.mark.usefixtures("languages")
def test_json_report_per_language(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.jsonl", ROWS[:3])
    second = _write(tmp_path / "b.jsonl", ROWS[3:])
    result = runner.invoke(app, ["nlp", "eval-language", str(first), str(second), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["detector"] == "lingua[de,en,es,fr,it,pt]"
    scores = {k: (v["n"], v["correct"], v["unknown"]) for k, v in report["by_language"].items()}
    assert scores == {"en": (2, 2, 0), "es": (1, 1, 0), "pt": (2, 1, 1), "overall": (5, 4, 1)}


@pytest.mark.usefixtures("languages")
def test_table_and_min_chars(tmp_path: Path) -> None:
    path = _write(tmp_path / "labelled.jsonl", ROWS)
    result = runner.invoke(app, ["nlp", "eval-language", str(path), "--min-chars", "0"])
    assert result.exit_code == 0, result.output
    assert "lingua[de,en,es,fr,it,pt]" in result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert [cell.strip() for cell in lines["en"].split("│")[2:5]] == ["3", "66.67%", "1"]
    assert [cell.strip() for cell in lines["overall"].split("│")[2:5]] == ["6", "66.67%", "2"]


def test_a_bad_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "no language here"}\n', encoding="utf-8")
    result = runner.invoke(app, ["nlp", "eval-language", str(path)])
    assert result.exit_code != 0
    assert "bad.jsonl:1" in result.output
