"""CSV exports: flat columns, ISO dates, and untrusted text that cannot become a formula."""

import csv
import io
from datetime import date

import pytest
from fastapi.responses import StreamingResponse

from hub.http.csv_export import csv_response, csv_stream


def _rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def test_nested_values_dates_and_lists_become_flat_cells() -> None:
    response = csv_response(
        "x", [{"day": date(2026, 1, 5), "stars": {"1": 2, "5": 7}, "topics": ["a", "b"], "n": None}]
    )
    assert response.headers["content-disposition"] == 'attachment; filename="x.csv"'
    assert response.media_type == "text/csv; charset=utf-8"
    assert _rows(response.body) == [
        {"day": "2026-01-05", "stars_1": "2", "stars_5": "7", "topics": "a; b", "n": ""}
    ]


def test_text_that_starts_like_a_formula_is_kept_as_text() -> None:
    texts = ['=HYPERLINK("http://evil")', "+1", "-2+3", "@SUM(A1)", "\tx", "fine = ok"]
    response = csv_response("x", [{"text": text} for text in texts])
    cells = [row["text"] for row in _rows(response.body)]
    assert cells == ["'" + text for text in texts[:-1]] + ["fine = ok"]


def test_negative_numbers_stay_numbers() -> None:
    response = csv_response("x", [{"nps": -12.5}])
    assert _rows(response.body) == [{"nps": "-12.5"}]


def test_columns_are_the_union_in_first_seen_order() -> None:
    response = csv_response("x", [{"a": 1}, {"b": 2, "a": 3}])
    assert response.body.decode().splitlines()[0] == "a,b"


async def _streamed(response: StreamingResponse) -> list[str]:
    return [
        chunk if isinstance(chunk, str) else bytes(chunk).decode()
        async for chunk in response.body_iterator
    ]


@pytest.mark.anyio
async def test_a_stream_writes_each_chunk_with_the_same_guard() -> None:
    chunks = [[{"id": 1, "text": "=1+1", "when": date(2026, 1, 5)}], [{"id": 2, "text": "ótimo"}]]
    response = csv_stream("x", ["id", "when", "text"], chunks)
    assert response.headers["content-disposition"] == 'attachment; filename="x.csv"'
    assert response.media_type == "text/csv; charset=utf-8"
    parts = await _streamed(response)
    assert parts == ["id,when,text\n1,2026-01-05,'=1+1\n", "2,,ótimo\n"]


@pytest.mark.anyio
async def test_a_stream_of_nothing_is_the_header() -> None:
    assert await _streamed(csv_stream("x", ["id", "text"], [])) == ["id,text\n"]
