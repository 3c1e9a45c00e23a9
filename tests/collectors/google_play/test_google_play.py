"""Google Play (batchexecute ``oCPfdb``): the recorded wire format, and the collector contract."""

import asyncio
import base64
import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from collectors.base import Cursor, MalformedResponse, Page
from collectors.googleplay import GooglePlayCollector, GooglePlayConfig, parse_response, to_item
from hub.feedback.models import Feedback
from tests.collectors.contract import CollectorContract, FakeApi

HERE = Path(__file__).parent
RECORDED = (HERE / "batchexecute_oCPfdb_reviews.txt").read_text("utf-8")
HEADERS = json.loads((HERE / "batchexecute_oCPfdb_reviews.headers.json").read_text("utf-8"))
RECORDED_RESULT = json.loads(json.loads(RECORDED.removeprefix(")]}'"))[0][2])
PATH = "/_/PlayStoreUi/data/batchexecute"


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def wire(result: Any, *, data: Any = ...) -> str:
    """A batchexecute answer carrying ``result``, as the recorded one is framed."""
    rows = json.loads(RECORDED.removeprefix(")]}'"))
    rows[0][2] = compact(result) if data is ... else data
    return ")]}'\n\n" + compact(rows)


def rpc_args(request: httpx.Request) -> list[Any]:
    """The ``oCPfdb`` arguments inside a request's ``f.req`` form field."""
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    [freq] = parse_qs(request.content.decode())["f.req"]
    [[[rpc_id, args, none, generic]]] = json.loads(freq)
    assert (rpc_id, none, generic) == ("oCPfdb", None, "generic")
    return list(json.loads(args))


class FakeGooglePlay(FakeApi):
    """``oCPfdb``: newest first (sort 2), ``count`` a page, an opaque continuation token."""

    def record(self, n: int, text: str, when: datetime) -> Any:  # a review is an array
        review = copy.deepcopy(RECORDED_RESULT[0][0])
        review[0] = f"00000000-0000-4000-8000-{n:012d}"
        review[1][0] = f"Reviewer {n}"
        review[2] = n % 5 + 1
        review[4] = text
        review[5] = [int(when.timestamp()), 123000000]
        review[6] = n % 7
        return review

    def respond(self, request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("POST", PATH)
        assert request.url.params["hl"] == "en" and request.url.params["gl"] == "us"
        args = rpc_args(request)
        sort, size, app_id = args[1][1], args[1][2], args[2][0]
        assert (sort, app_id) == (2, "com.cestia.shop")
        records: list[Any] = self.records
        newest = sorted(records, key=lambda r: (r[5][0], r[0]), reverse=True)
        if len(size) > 2:  # resume below the last review the token names
            after = json.loads(base64.urlsafe_b64decode(size[2]))
            newest = [r for r in newest if [r[5][0], r[0]] < after]
        shown, rest = newest[: size[0]], newest[size[0] :]
        paging = None
        if rest:
            key = compact([shown[-1][5][0], shown[-1][0]]).encode()
            paging = [None, base64.urlsafe_b64encode(key).decode()]
        return httpx.Response(200, text=wire([shown, paging, None]), headers=HEADERS)


class TestGooglePlayContract(CollectorContract):
    kind = "google_play"

    def make_api(self) -> FakeApi:
        return FakeGooglePlay()

    def config(self) -> dict[str, Any]:
        return {"base_url": "https://play.fake.test", "app_id": "com.cestia.shop", "page_size": 3}

    def record_id(self, record: Any) -> str:
        return str(record[0])

    def check_item(self, stored: Feedback, record: Any) -> None:
        assert stored.channel == "review"
        assert (stored.score_type, stored.score) == ("stars", record[2])
        assert stored.author == record[1][0] and stored.title is None
        assert int(stored.created_at.timestamp()) == record[5][0]
        assert stored.url == (
            f"https://play.google.com/store/apps/details?id=com.cestia.shop&reviewId={record[0]}"
        )
        assert stored.meta is not None and stored.meta["source_language"] == "en"
        assert stored.meta["app_version"] == "5.31.0" and stored.meta["thumbs_up"] == record[6]


# -- the recorded wire format -----------------------------------------------------------------


def test_recorded_reviews_map_to_items() -> None:
    reviews, token = parse_response(RECORDED)
    assert token is not None and token.startswith("CpMBCo0BCgoIwJC8")
    assert len(reviews) == 4
    items = [to_item(review, app_id="com.cestia.shop", lang="en") for review in reviews]
    first, stars_only, portuguese, blank = items
    assert first is not None
    assert first.external_id == "b3c1f0e2-7d4a-4f2b-9a61-0e8d5c2f4a17"
    assert first.channel == "review" and first.title is None
    assert (first.score_type, first.score) == ("stars", 2)
    assert first.text == (
        "Since the last update the app logs me out every time I switch to another app. "
        "I've lost two carts already & support just sends a canned reply."
    )
    assert first.author == "Priya Raman"
    assert first.created_at == datetime(2026, 12, 1, 18, 48, 47, tzinfo=UTC)
    assert first.url == (
        "https://play.google.com/store/apps/details?id=com.cestia.shop"
        "&reviewId=b3c1f0e2-7d4a-4f2b-9a61-0e8d5c2f4a17"
    )
    assert first.language == "en"
    assert first.metadata == {
        "thumbs_up": 37,
        "app_version": "5.31.0",
        "reply": {
            "text": "Hi Priya, we're sorry about this. A fix for the sign-out issue is rolling "
            "out in 5.31.1 - please update and let us know at help@cestia.example.",
            "replied_at": "2026-12-01T22:15:01+00:00",
        },
    }
    # A rating without words is kept for its stars; its id is the older `gp:` kind.
    assert stars_only is not None and stars_only.text is None and stars_only.score == 5
    assert stars_only.external_id.startswith("gp:AOqpTO")
    assert stars_only.metadata == {"thumbs_up": 0, "app_version": "5.31.0"}
    assert portuguese is not None and portuguese.text is not None
    assert portuguese.text.endswith("embalados 👍 Só falta opção de agendar para o fim de semana.")
    assert portuguese.author == "Ana Lúcia Ferreira" and "app_version" not in portuguese.metadata
    # Blank words and an empty reply slot: the stars remain, no reply is made up.
    assert blank is not None and blank.text is None and blank.score == 1
    assert "reply" not in blank.metadata


def test_a_review_with_neither_words_nor_stars_is_skipped() -> None:
    review = copy.deepcopy(RECORDED_RESULT[0][1])
    review[2] = None
    assert to_item(review, app_id="com.cestia.shop", lang="en") is None


def test_the_last_page_and_empty_answers() -> None:
    reviews = RECORDED_RESULT[0][:1]
    assert parse_response(wire([reviews, None, None])) == (reviews, None)
    assert parse_response(wire([reviews])) == (reviews, None)
    assert parse_response(wire([reviews, [None, None]])) == (reviews, None)
    assert parse_response(wire([])) == ([], None)
    assert parse_response(wire([None, None])) == ([], None)
    assert parse_response(wire(None, data=None)) == ([], None)


def test_the_chunked_form_of_the_envelope_is_read_too() -> None:
    rows = json.loads(RECORDED.removeprefix(")]}'"))
    first, rest = compact(rows[:1]), compact(rows[1:])
    chunked = (
        f')]}}\'\n\n{len(first)}\n{first}\n{len(rest)}\n{rest}\n25\n[["e",4,null,null,2035]]\n'
    )
    reviews, token = parse_response(chunked)
    assert len(reviews) == 4 and token == RECORDED_RESULT[1][1]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<!DOCTYPE html><html><body>Sorry...</body></html>", "not JSON"),
        (")]}'\n\n" + compact([["di", 61], ["af.httprm", 61, "-1", 18]]), "no wrb.fr row"),
        (wire(None, data='[[["truncated'), "result is not JSON"),
        (wire(None, data=7), "not a JSON string"),
        (wire({"reviews": []}), "not an array"),
        (wire(["no reviews here"]), r"reviews \(\[0\]\) are not an array"),
        (wire([RECORDED_RESULT[0], [None, 12345]]), "token is not a string"),
        (wire([RECORDED_RESULT[0], "CpMB"]), "paging slot"),
    ],
)
def test_structural_surprises_are_malformed_with_a_sample(body: str, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message) as raised:
        parse_response(body)
    assert raised.value.sample


def test_an_error_row_is_malformed() -> None:
    rows = [["wrb.fr", "oCPfdb", None, None, None, [3], "generic"], ["di", 20]]
    with pytest.raises(MalformedResponse, match="answered an error"):
        parse_response(")]}'\n\n" + compact(rows))


# -- the requests and the read ----------------------------------------------------------------


def pull(handler: Any, cursor: Cursor | None, **config: Any) -> tuple[list[Page], list[Any]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    async def run() -> list[Page]:
        settings = GooglePlayConfig(base_url="https://play.fake.test", **config)
        async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
            return [page async for page in GooglePlayCollector().pull(client, settings, cursor)]

    return asyncio.run(run()), seen


def test_the_request_carries_app_language_country_and_the_token() -> None:
    answers = [
        httpx.Response(200, text=RECORDED, headers=HEADERS),
        httpx.Response(200, text=wire([[], None, None]), headers=HEADERS),
    ]
    pages, seen = pull(
        lambda request: answers.pop(0),
        {"high_water": 1796000000.0, "sweep": None},
        app_id="com.cestia.shop",
        lang="pt",
        country="br",
    )
    assert seen[0].method == "POST"
    assert str(seen[0].url) == "https://play.fake.test/_/PlayStoreUi/data/batchexecute?hl=pt&gl=br"
    assert "authorization" not in seen[0].headers
    assert rpc_args(seen[0]) == [None, [2, 2, [100], None, [None] * 9], ["com.cestia.shop", 7]]
    token = RECORDED_RESULT[1][1]
    assert rpc_args(seen[1])[1][2] == [100, None, token]
    assert pages[0].cursor == {
        "high_water": 1796000000.0,
        "sweep": {"newest": 1796150927.0, "resume": {"token": token}},
    }
    assert pages[1].cursor == {"high_water": 1796150927.0, "sweep": None}
    assert [item.external_id for item in pages[0].items][:1] == [
        "b3c1f0e2-7d4a-4f2b-9a61-0e8d5c2f4a17"
    ]


def test_the_read_stops_below_the_mark_without_following_the_token() -> None:
    mark = 1796141120.0  # the second review's time: it is read again, the older ones are not
    pages, seen = pull(
        lambda request: httpx.Response(200, text=RECORDED, headers=HEADERS),
        {"high_water": mark, "sweep": None},
        app_id="com.cestia.shop",
    )
    assert len(seen) == 1
    [page] = pages
    assert [item.score for item in page.items] == [2, 5]
    assert page.cursor == {"high_water": 1796150927.0, "sweep": None}


def test_config_checks_the_package_name_and_page_size() -> None:
    with pytest.raises(ValueError, match="app_id"):
        GooglePlayConfig(app_id="Cestia Shop")
    with pytest.raises(ValueError, match="page_size"):
        GooglePlayConfig(app_id="com.cestia.shop", page_size=500)


def test_recorded_reviews_with_optional_fields_missing_keep_every_good_one() -> None:
    """A review cut short after its text (no time, thumbs, version, reply) is dated at the
    read; one without an id is rejected alone: the rest of the recorded page is kept."""
    reviews = copy.deepcopy(RECORDED_RESULT[0])
    first_id = reviews[0][0]
    reviews[0] = reviews[0][:5]
    reviews[1][0] = None
    answers = [
        httpx.Response(200, text=wire([reviews, None]), headers=HEADERS),
    ]
    before = datetime.now(UTC)
    [page], _ = pull(
        lambda request: answers.pop(0),
        {"high_water": 1796000000.0, "sweep": None},
        app_id="com.cestia.shop",
    )
    by_id = {item.external_id: item for item in page.items}
    assert first_id in by_id and reviews[1][0] not in by_id
    assert len(page.rejected) == 1 and "lacks its id" in page.rejected[0]
    assert by_id[first_id].created_at >= before
    assert by_id[first_id].metadata == {}
    assert len(by_id) == 1 + sum(
        to_item(review, app_id="x", lang="en") is not None for review in reviews[2:]
    )
