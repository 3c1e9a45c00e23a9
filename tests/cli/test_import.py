"""`feedback-hub import`: JSONL and CSV, rejected lines reported, re-runs create nothing."""

import csv
import json
from pathlib import Path

from sqlmodel import func, select
from typer.testing import CliRunner

from hub.cli import app
from hub.customers.models import Customer
from hub.feedback.models import Feedback
from hub.sources.models import Source
from hub.store.engine import session_scope

runner = CliRunner()


def _rows(db) -> list[Feedback]:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        return list(session.exec(select(Feedback).order_by(Feedback.id)).all())


def _write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_import_reports_bad_lines_and_keeps_the_rest(cli_env: Path, db) -> None:  # type: ignore[no-untyped-def]
    path = _write_jsonl(
        cli_env / "export.jsonl",
        [
            json.dumps(
                {
                    "external_id": "a1",
                    "channel": "review",
                    "text": "Great app",
                    "score_type": "stars",
                    "score": 5,
                }
            ),
            '{"external_id": "a2", "channel": "review", "text": "broken',
            json.dumps(
                {"external_id": "a3", "channel": "review", "score_type": "stars", "score": 9}
            ),
            "",
            json.dumps(
                {"channel": "survey", "text": "no id given", "customer": {"email": "x@example.com"}}
            ),
            json.dumps(["not", "an", "object"]),
        ],
    )
    result = runner.invoke(app, ["import", str(path), "--source", "Old export"])
    assert result.exit_code == 0, result.output
    assert "2 created, 0 duplicate, 3 rejected" in result.output
    rejects = [
        json.loads(line)
        for line in (cli_env / "export.jsonl.rejected.jsonl").read_text().splitlines()
    ]
    assert [r["line"] for r in rejects] == [2, 3, 6]
    assert rejects[0]["errors"][0].startswith("not valid JSON")
    assert rejects[1]["errors"] == ["item: score 9 is out of range for stars (1-5)"]
    assert rejects[2]["errors"] == ["item: an item must be a JSON object"]
    assert rejects[0]["input"].startswith('{"external_id": "a2"')
    stored = _rows(db)
    assert [r.text for r in stored] == ["Great app", "no id given"]
    assert stored[1].external_id.startswith("sha256:")
    with session_scope(db.engine) as session:
        source = session.exec(select(Source)).one()
    assert (source.name, source.kind) == ("Old export", "import")

    again = runner.invoke(app, ["import", str(path), "--source", "Old export"])
    assert "0 created, 2 duplicate, 3 rejected" in again.output
    assert len(_rows(db)) == 2


def test_fixed_file_reimports_without_duplicates_and_clears_rejects(cli_env: Path, db) -> None:  # type: ignore[no-untyped-def]
    good = json.dumps(
        {"external_id": "b1", "channel": "rating", "score_type": "thumbs", "score": 1}
    )
    path = _write_jsonl(cli_env / "f.jsonl", [good, '{"external_id": "b2"}'])
    runner.invoke(app, ["import", str(path), "--source", "s"])
    assert (cli_env / "f.jsonl.rejected.jsonl").exists()
    fixed = json.dumps(
        {"external_id": "b2", "channel": "rating", "score_type": "thumbs", "score": 0}
    )
    _write_jsonl(path, [good, fixed])
    result = runner.invoke(app, ["import", str(path), "--source", "s"])
    assert "1 created, 1 duplicate, 0 rejected" in result.output
    assert not (cli_env / "f.jsonl.rejected.jsonl").exists()
    assert len(_rows(db)) == 2


def test_csv_import_with_nested_columns(cli_env: Path, db) -> None:  # type: ignore[no-untyped-def]
    path = cli_env / "survey.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "external_id",
                "channel",
                "text",
                "score_type",
                "score",
                "created_at",
                "customer.ref",
                "customer.email",
                "customer.segment",
                "metadata",
                "answers.q1",
            ]
        )
        writer.writerow(
            [
                "r1",
                "survey",
                "Muito bom, entrega rápida",
                "nps",
                "10",
                "2026-10-01 12:00",
                "cus_9",
                "ze@example.com",
                "smb",
                '{"plan": "pro"}',
                "yes",
            ]
        )
        writer.writerow(["r2", "survey", "Precio alto", "NPS", "6", "", "", "", "", "", ""])
        writer.writerow(["r3", "survey", "bad score", "csat", "9", "", "", "", "", "", ""])
        writer.writerow(["r4", "survey", "bad json", "", "", "", "", "", "", "{oops", ""])
    result = runner.invoke(app, ["import", str(path), "--source", "Survey CSV"])
    assert result.exit_code == 0, result.output
    assert "2 created, 0 duplicate, 2 rejected" in result.output
    first, second = _rows(db)
    assert (first.score, first.meta, first.answers) == (10, {"plan": "pro"}, {"q1": "yes"})
    assert first.created_at.isoformat() == "2026-10-01T12:00:00+00:00"
    assert (second.score_type, second.score, second.customer_id) == ("nps", 6, None)
    with session_scope(db.engine) as session:
        customer = session.exec(select(Customer)).one()
    assert (customer.external_ref, customer.email, customer.segment) == (
        "cus_9",
        "ze@example.com",
        "smb",
    )
    with (cli_env / "survey.csv.rejected.csv").open(newline="", encoding="utf-8") as handle:
        rejects = list(csv.DictReader(handle))
    assert [r["line"] for r in rejects] == ["4", "5"]
    assert rejects[0]["errors"] == "item: score 9 is out of range for csat (1-5)"
    assert (
        rejects[1]["errors"]
        == "column 'metadata': not valid JSON: unexpected character, expected a string key "
        "(line 1, column 2)"
    )
    assert rejects[0]["text"] == "bad score"


def test_unknown_file_type_is_a_clear_error(cli_env: Path, db) -> None:  # type: ignore[no-untyped-def]
    path = cli_env / "data.xlsx"
    path.write_bytes(b"PK")
    result = runner.invoke(app, ["import", str(path), "--source", "s"])
    assert result.exit_code == 2
    assert "expected a .jsonl, .ndjson or .csv file" in result.output


def test_chunks_commit_separately(cli_env: Path, db) -> None:  # type: ignore[no-untyped-def]
    lines = [
        json.dumps({"external_id": str(n), "channel": "social", "text": f"post {n}"})
        for n in range(25)
    ]
    path = _write_jsonl(cli_env / "many.jsonl", lines)
    result = runner.invoke(app, ["import", str(path), "--source", "s", "--chunk-size", "10"])
    assert "25 created" in result.output
    with session_scope(db.engine) as session:
        assert session.exec(select(func.count()).select_from(Feedback)).one() == 25


def test_parallel_import_matches_the_inline_one(cli_env: Path, db) -> None:  # type: ignore[no-untyped-def]
    from hub.feedback.importer import import_file

    lines = [
        json.dumps(
            {
                "external_id": str(n),
                "channel": "review",
                "score_type": "stars",
                "score": 1 + n % 5,
                "text": f"review {n}",
                "customer": f"cus_{n % 7}",
            }
        )
        for n in range(2_500)
    ]
    lines[1234] = '{"external_id": "broken"'
    path = _write_jsonl(cli_env / "big.jsonl", lines)
    report = import_file(db.engine, path, source="s", chunk_size=500, parallel=True)
    assert (report.created, report.duplicate, report.rejected) == (2_499, 0, 1)
    assert report.rejects[0]["line"] == 1235
    again = import_file(db.engine, path, source="s", chunk_size=500, parallel=False)
    assert (again.created, again.duplicate, again.rejected) == (0, 2_499, 1)
    assert len(_rows(db)) == 2_499


def test_byte_order_mark_and_invalid_utf8(cli_env: Path, db) -> None:  # type: ignore[no-untyped-def]
    good = json.dumps({"external_id": "1", "channel": "social", "text": "olá"}).encode()
    path = cli_env / "bom.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + good
        + b"\n"
        + b'{"external_id": "2", "channel": "social", "text": "\xff"}\n'
    )
    result = runner.invoke(app, ["import", str(path), "--source", "s"])
    assert "1 created, 0 duplicate, 1 rejected" in result.output
    rejects = (cli_env / "bom.jsonl.rejected.jsonl").read_text(encoding="utf-8")
    assert "not valid JSON" in rejects

    csv_path = cli_env / "latin1.csv"
    csv_path.write_bytes(
        "external_id,channel,text\n1,social,ok\n2,social,caf\xe9\n".encode("latin-1")
    )
    result = runner.invoke(app, ["import", str(csv_path), "--source", "s"])
    assert result.exit_code == 2
    assert "not UTF-8" in result.output
