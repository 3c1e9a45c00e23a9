"""Every field and limit of an ingested item: bad input is refused with the field's path."""

import httpx
import pytest

from tests.factories import item

pytestmark = pytest.mark.anyio
URL = "/api/v1/feedback"

BAD_ITEMS = [
    # (case, overrides, loc, message fragment)
    ("source missing", {"source": ...}, ["body", "source"], "Field required"),
    ("source blank", {"source": "  "}, ["body", "source"], "at least 1 character"),
    ("source too long", {"source": "s" * 101}, ["body", "source"], "at most 100 characters"),
    ("external_id missing", {"external_id": ...}, ["body", "external_id"], "Field required"),
    ("external_id too long", {"external_id": "e" * 256}, ["body", "external_id"], "at most 255"),
    ("external_id with NUL", {"external_id": "a\x00b"}, ["body", "external_id"], "NUL"),
    ("channel missing", {"channel": ...}, ["body", "channel"], "Field required"),
    ("channel unknown", {"channel": "fax"}, ["body", "channel"], "'survey', 'rating'"),
    ("text too long", {"text": "t" * 20_001}, ["body", "text"], "at most 20000 characters"),
    ("text not a string", {"text": 12}, ["body", "text"], "valid string"),
    ("text with NUL", {"text": "bad\x00byte"}, ["body", "text"], "NUL"),
    ("title too long", {"title": "t" * 501}, ["body", "title"], "at most 500 characters"),
    ("score_type unknown", {"score_type": "likert"}, ["body", "score_type"], "'nps', 'csat'"),
    ("score without type", {"score_type": None}, ["body"], "give both or neither"),
    ("type without score", {"score": None}, ["body"], "give both or neither"),
    ("score fractional", {"score": 7.5}, ["body", "score"], "whole number"),
    ("score not a number", {"score": "high"}, ["body", "score"], "valid integer"),
    ("nps above 10", {"score": 11}, ["body"], "out of range for nps (0-10)"),
    ("nps below 0", {"score": -1}, ["body"], "out of range for nps (0-10)"),
    ("csat 0", {"score_type": "csat", "score": 0}, ["body"], "csat (1-5)"),
    ("csat 6", {"score_type": "csat", "score": 6}, ["body"], "csat (1-5)"),
    ("ces 8", {"score_type": "ces", "score": 8}, ["body"], "ces (1-7)"),
    ("stars 0", {"score_type": "stars", "score": 0}, ["body"], "stars (1-5)"),
    ("thumbs 2", {"score_type": "thumbs", "score": 2}, ["body"], "thumbs (0-1)"),
    ("nothing said", {"text": None, "score_type": None, "score": None}, ["body"], "at least one"),
    ("created_at garbage", {"created_at": "yesterday"}, ["body", "created_at"], "datetime"),
    ("created_at future", {"created_at": "2999-01-01T00:00:00Z"}, ["body"], "in the future"),
    ("author too long", {"author": "a" * 201}, ["body", "author"], "at most 200 characters"),
    ("url not http", {"url": "javascript:alert(1)"}, ["body", "url"], "http(s) URL"),
    ("url relative", {"url": "/reviews/1"}, ["body", "url"], "http(s) URL"),
    ("url too long", {"url": "https://x.io/" + "a" * 2048}, ["body", "url"], "at most 2048"),
    ("metadata not object", {"metadata": [1, 2]}, ["body", "metadata"], "valid dictionary"),
    ("metadata too big", {"metadata": {"k": "v" * 70_000}}, ["body", "metadata"], "64 KiB"),
    ("answers not object", {"answers": "yes"}, ["body", "answers"], "valid dictionary"),
    ("answers with NUL", {"answers": {"q": "a\x00"}}, ["body", "answers", "q"], "NUL"),
    (
        "customer without id",
        {"customer": {"name": "Ana"}},
        ["body", "customer"],
        "`ref` or an `email`",
    ),
    (
        "customer email bad",
        {"customer": {"email": "not-an-email"}},
        ["body", "customer", "email"],
        "email",
    ),
    (
        "customer unknown field",
        {"customer": {"ref": "c", "age": 3}},
        ["body", "customer", "age"],
        "Extra inputs",
    ),
    (
        "customer segment long",
        {"customer": {"ref": "c", "segment": "s" * 101}},
        ["body", "customer", "segment"],
        "at most 100",
    ),
    (
        "customer attributes list",
        {"customer": {"ref": "c", "attributes": [1]}},
        ["body", "customer", "attributes"],
        "valid dictionary",
    ),
    (
        "unknown field",
        {"sentiment": "positive"},
        ["body", "sentiment"],
        "Extra inputs are not permitted",
    ),
]


@pytest.mark.parametrize(
    ("case", "overrides", "loc", "fragment"), BAD_ITEMS, ids=[c[0] for c in BAD_ITEMS]
)
async def test_bad_item_is_rejected_with_its_field(
    client: httpx.AsyncClient, auth: dict, case: str, overrides: dict, loc: list, fragment: str
) -> None:
    response = await client.post(URL, json=item(**overrides), headers=auth)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert any(d["loc"] == loc and fragment in d["message"] for d in error["details"]), error
    assert (await client.get(URL, headers=auth)).json()["items"] == []


GOOD_VARIANTS = [
    ("channel upper case", {"channel": "REVIEW"}, "channel", "review"),
    ("score as string", {"score": "9"}, "score", 9),
    (
        "naive time is UTC",
        {"created_at": "2026-10-01T08:30:00"},
        "created_at",
        "2026-10-01T08:30:00Z",
    ),
    ("date only", {"created_at": "2026-10-01"}, "created_at", "2026-10-01T00:00:00Z"),
    (
        "offset time",
        {"created_at": "2026-10-01T10:30:00+02:00"},
        "created_at",
        "2026-10-01T08:30:00Z",
    ),
    ("blank text is absent", {"text": "   "}, "text", None),
    ("text trimmed", {"text": "  late  "}, "text", "late"),
    ("customer shorthand", {"customer": "cus_9"}, "customer", "cus_9"),
    ("thumbs down", {"score_type": "thumbs", "score": 0}, "score", 0),
    ("title only", {"text": None, "score_type": None, "score": None, "title": "Hi"}, "title", "Hi"),
]


@pytest.mark.parametrize(
    ("case", "overrides", "field", "expected"), GOOD_VARIANTS, ids=[c[0] for c in GOOD_VARIANTS]
)
async def test_lenient_input_is_normalised(
    client: httpx.AsyncClient, auth: dict, case: str, overrides: dict, field: str, expected: object
) -> None:
    response = await client.post(URL, json=item(**overrides), headers=auth)
    assert response.status_code == 201, response.text
    stored = response.json()
    value = stored[field]
    if field == "customer":
        value = value["ref"]
    if field == "created_at":
        value = value.replace("+00:00", "Z")
    assert value == expected
