"""One bad item never sinks its neighbours: API batches and file imports, on both backends."""

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hub.cli import app
from tests.factories import item

URL = "/api/v1/feedback"
GOOD = json.dumps(item(external_id="good-1")).encode()
DEEP = b"[" * 10_000 + b"]" * 10_000
NESTED_300 = b"[" * 300 + b"]" * 300
# Each bad item as raw JSON text, with a word its rejection must hold.
BAD_ITEMS = {
    "integer beyond 64 bits": (b'{"metadata": {"n": 18446744073709551616}}', "out of range"),
    "negative integer beyond 64 bits": (b'{"metadata": {"n": -9223372036854775809}}', "range"),
    "5,000-digit integer": (b'{"metadata": {"n": ' + b"7" * 5000 + b"}}", "range"),
    "float beyond double": (b'{"metadata": {"x": 1e400}}', "out of range"),
    "NaN": (b'{"metadata": {"x": NaN}}', "not valid JSON"),
    "Infinity": (b'{"metadata": {"x": -Infinity}}', "not valid JSON"),
    "10,000 nested arrays": (b'{"metadata": {"x": ' + DEEP + b"}}", "nested too deeply"),
    "300 nested arrays": (b'{"metadata": {"x": ' + NESTED_300 + b"}}", "cannot be stored"),
    "lone surrogate": (b'{"text": "\\ud800 hi"}', "surrogate"),
    "NUL in a customer attribute": (
        b'{"customer": {"ref": "c", "attributes": {"a": "x\\u0000"}}}',
        "NUL",
    ),
    "NUL in a customer name": (b'{"customer": {"ref": "c", "name": "\\u0000"}}', "NUL"),
    "true as a score": (b'{"score": true}', "score"),
    "float as a score": (b'{"score": 3.0}', "score"),
    "not an object": (b"[1, 2]", "JSON object"),
}


def _bad_item(raw: bytes, external_id: str) -> bytes:
    """The bad part merged into an otherwise valid item (or the raw value if not an object)."""
    if not raw.startswith(b"{"):
        return raw
    base = json.dumps(item(external_id=external_id)).encode()[:-1]  # without the closing brace
    return base + b", " + raw[1:]  # a repeated key: the later one wins, as JSON readers do


# Over HTTP a NUL refuses the whole request, wherever it is (tests/hardening/test_refusals.py).
WITHOUT_NUL = [case for case in BAD_ITEMS if "NUL" not in case]


@pytest.mark.anyio
@pytest.mark.parametrize("case", WITHOUT_NUL)
async def test_batch_rejects_the_bad_item_alone(
    case: str, client: httpx.AsyncClient, auth: dict
) -> None:
    raw, reason = BAD_ITEMS[case]
    other = json.dumps(item(external_id="good-2")).encode()
    body = b'{"items": [' + GOOD + b", " + _bad_item(raw, "bad-1") + b", " + other + b"]}"
    headers = {**auth, "Content-Type": "application/json"}
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 200, response.text
    summary = response.json()
    assert (summary["created"], summary["rejected"]) == (2, 1), summary
    rejected = summary["results"][1]
    assert (rejected["index"], rejected["status"]) == (1, "rejected")
    assert reason in json.dumps(rejected["errors"]), rejected
    listing = await client.get(URL, headers=auth)
    assert sorted(i["external_id"] for i in listing.json()["items"]) == ["good-1", "good-2"]


@pytest.mark.anyio
@pytest.mark.parametrize("case", [c for c in BAD_ITEMS if c != "not an object"])
async def test_one_bad_item_alone_is_a_4xx(
    case: str, client: httpx.AsyncClient, auth: dict
) -> None:
    raw, reason = BAD_ITEMS[case]
    headers = {**auth, "Content-Type": "application/json"}
    response = await client.post(URL, content=_bad_item(raw, "solo"), headers=headers)
    assert response.status_code in (400, 422), response.text
    assert reason in response.text


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b'{"items": [' + GOOD + b",]}", 400),
        (b'{"items": [' + GOOD + b"]", 400),
        (b'{"items": [' + GOOD + b'], "extra": NaN}', 400),
        (DEEP, 422),
        (b"18446744073709551616", 422),
    ],
)
async def test_whole_body_problems_are_one_4xx(
    body: bytes, status: int, client: httpx.AsyncClient, auth: dict
) -> None:
    headers = {**auth, "Content-Type": "application/json"}
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]


def test_import_writes_bad_lines_to_rejects_and_stores_the_rest(cli_env: Path, db) -> None:  # type: ignore[no-untyped-def]
    lines = [json.dumps(item(external_id="first")).encode()]
    for number, (raw, _reason) in enumerate(BAD_ITEMS.values()):
        lines.append(_bad_item(raw, f"bad-{number}"))
    lines.append(json.dumps(item(external_id="last")).encode())
    path = cli_env / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = CliRunner().invoke(app, ["import", str(path), "--source", "tests"])
    assert result.exit_code == 0, result.output
    assert f"2 created, 0 duplicate, {len(BAD_ITEMS)} rejected" in result.output
    rejects_path = cli_env / "hostile.jsonl.rejected.jsonl"
    rejects = [json.loads(line) for line in rejects_path.read_text().splitlines()]
    assert [r["line"] for r in rejects] == list(range(2, len(BAD_ITEMS) + 2))
    for reject, (_raw, reason) in zip(rejects, BAD_ITEMS.values(), strict=True):
        assert reason in json.dumps(reject["errors"]), reject


def test_csv_import_rejects_bad_json_cells_alone(cli_env: Path, db) -> None:  # type: ignore[no-untyped-def]
    path = cli_env / "hostile.csv"
    path.write_text(
        "external_id,channel,text,metadata\n"
        "c1,survey,fine,\n"
        'c2,survey,big,"{""n"": 18446744073709551616}"\n'
        'c3,survey,huge,"{""x"": 1e400}"\n'
        f'c4,survey,deep,"{{""x"": {"[" * 5000}{"]" * 5000}}}"\n'
        'c5,survey,nan,"{""x"": NaN}"\n'
        "c6,survey,fine too,\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["import", str(path), "--source", "tests"])
    assert result.exit_code == 0, result.output
    assert "2 created, 0 duplicate, 4 rejected" in result.output
    rejects = (cli_env / "hostile.csv.rejected.csv").read_text()
    assert "out of range" in rejects and "nested too deeply" in rejects
