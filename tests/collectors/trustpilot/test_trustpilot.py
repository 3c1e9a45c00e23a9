"""Trustpilot (business unit reviews): the recorded shape, and the collector contract."""

import asyncio
import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from collectors.base import Cursor, Page
from collectors.trustpilot import TrustpilotCollector, TrustpilotConfig, to_item
from hub.feedback.models import Feedback
from tests.collectors.contract import CollectorContract, FakeApi

RECORDED = json.loads((Path(__file__).parent / "reviews.json").read_text("utf-8"))
BASE = "https://tp.fake.test"
UNIT = "5f3c2a9e8b1d4c0001a7e6b2"
KEY = "tp-key-0123456789abcdef"
REVIEWS_PATH = f"/v1/business-units/{UNIT}/reviews"


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class FakeTrustpilot(FakeApi):
    """Business unit reviews: apikey header, orderBy=createdat.desc, page/perPage, language."""

    def record(self, n: int, text: str, when: datetime) -> dict[str, Any]:
        review = copy.deepcopy(RECORDED["reviews"][0])
        review_id = f"674b{n:020x}"
        link = {"href": f"{BASE}/v1/reviews/{review_id}", "method": "GET", "rel": "reviews"}
        return {
            **review,
            "id": review_id,
            "text": text,
            "createdAt": iso(when),
            "links": [link],
        }

    def respond(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("apikey") != KEY:
            fault = {"faultstring": "Invalid ApiKey", "detail": {"errorcode": "InvalidApiKey"}}
            return httpx.Response(401, json={"fault": fault})
        assert request.url.path == REVIEWS_PATH, request.url.path
        query = parse_qs(request.url.query.decode())
        assert query["orderBy"] == ["createdat.desc"] and "apikey" not in query
        reviews = sorted(self.records, key=lambda r: r["createdAt"], reverse=True)
        language = query.get("language", ["all"])[0]
        if language != "all":
            reviews = [review for review in reviews if review["language"] == language]
        page, per_page = int(query.get("page", ["1"])[0]), int(query.get("perPage", ["20"])[0])
        assert page >= 1 and 1 <= per_page <= 100
        shown = reviews[(page - 1) * per_page : page * per_page]
        return httpx.Response(200, json={"links": self._links(page, per_page, len(reviews)),
                                         "reviews": shown})  # fmt: skip

    @staticmethod
    def _links(page: int, per_page: int, total: int) -> list[dict[str, str]]:
        def link(number: int, rel: str) -> dict[str, str]:
            href = f"{BASE}{REVIEWS_PATH}?page={number}&perPage={per_page}"
            return {"href": href, "method": "GET", "rel": rel}

        links = [link(page - 1, "prev-page")] if page > 1 else []
        return links + ([link(page + 1, "next-page")] if page * per_page < total else [])


def config(**overrides: Any) -> dict[str, Any]:
    return {"base_url": BASE, "business_unit_id": UNIT, "api_key": KEY, "per_page": 3, **overrides}


class TestTrustpilotContract(CollectorContract):
    kind = "trustpilot"

    def make_api(self) -> FakeApi:
        return FakeTrustpilot()

    def config(self) -> dict[str, Any]:
        return config()

    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["id"])

    def check_item(self, stored: Feedback, record: dict[str, Any]) -> None:
        assert stored.channel == "review"
        assert (stored.score_type, stored.score) == ("stars", 1)
        assert stored.title == "Substitutions without asking, refund took 9 days"
        assert stored.author == "Priya S." and stored.customer_id is None
        assert stored.url == f"https://www.trustpilot.com/reviews/{record['id']}"
        when = datetime.fromisoformat(record["createdAt"])
        assert stored.created_at.timestamp() == when.timestamp()
        assert stored.meta is not None and stored.meta["reference_id"] == "ORD-2026-118843"


def pull(api: FakeTrustpilot, cursor: Cursor | None = None, **overrides: Any) -> list[Page]:
    async def run() -> list[Page]:
        settings = TrustpilotConfig.model_validate(config(**overrides))
        async with httpx.AsyncClient(transport=api.transport()) as client:
            return [page async for page in TrustpilotCollector().pull(client, settings, cursor)]

    return asyncio.run(run())


def test_recorded_reviews_map_to_items() -> None:
    complaint, praise, title_only, edited = RECORDED["reviews"]
    item = to_item(complaint)
    assert item is not None
    assert item.external_id == "674b5e1f9c2d3a0012f4b8a1" and item.channel == "review"
    assert (item.score_type, item.score) == ("stars", 1)
    assert item.title == "Substitutions without asking, refund took 9 days"
    assert item.text == (
        'Ordered oat milk, got a "milk-flavoured drink". No call, no message.\n'
        "Support promised a refund in 24h; it arrived after 9 days and two chats."
    )
    assert item.created_at == datetime(2026, 11, 30, 18, 41, 7, tzinfo=UTC)
    assert item.author == "Priya S." and item.language == "en" and item.customer is None
    assert item.url == "https://www.trustpilot.com/reviews/674b5e1f9c2d3a0012f4b8a1"
    assert item.metadata == {
        "reply": {
            "message": "Hi Priya, we're sorry about the substitution and the slow refund. "
            "We've passed this to our quality team and added a credit to your account.",
            "created_at": "2026-11-30T20:02:55",
        },
        "verified": True, "reference_id": "ORD-2026-118843",
        "consumer_id": "5e8a1c7f2b4d6e0019a3c5f1", "consumer_location": "Leeds, GB",
        "consumer_reviews": 7, "status": "active", "experienced_at": "2026-11-27T00:00:00Z",
        "counts_towards_trust_score": True, "verification_level": "verified", "likes": 3,
    }  # fmt: skip

    german = to_item(praise)
    assert german is not None and german.score == 5 and german.language == "de"
    assert german.text is not None and german.text.endswith("hochgetragen \u2013 danke!")
    assert german.author == "Jörg Weißmüller"
    assert german.metadata["location"] == "Cestia Berlin-Mitte"
    assert german.metadata["verified"] is False
    assert "reply" not in german.metadata and "reference_id" not in german.metadata
    assert german.created_at == datetime(2026, 11, 30, 14, 21, 9, tzinfo=UTC)

    short = to_item(title_only)
    assert short is not None  # no text, but a title and three stars are worth keeping
    assert (short.text, short.title, short.score) == (None, "Ok", 3)

    changed = to_item(edited)
    assert changed is not None
    assert changed.created_at == datetime(2026, 11, 29, 21, 3, 44, tzinfo=UTC)  # no zone: UTC
    assert changed.metadata["updated_at"] == "2026-11-30T09:12:18"
    assert changed.metadata["reply"] == {
        "message": "Thanks for flagging this. A fix for the checkout freeze ships this week.",
        "created_at": "2026-11-30T10:30:00", "updated_at": "2026-11-30T10:31:12",
    }  # fmt: skip
    assert changed.metadata["reference_id"] == "CUST-77120"


def test_the_request_carries_the_key_in_a_header_and_the_paging() -> None:
    api = FakeTrustpilot()
    api.records = copy.deepcopy(RECORDED["reviews"])
    [page] = pull(api, {"high_water": 1796000000.0, "sweep": None}, per_page=20, language="de")
    [request] = api.requests
    assert request.method == "GET" and request.url.host == "tp.fake.test"
    assert request.url.path == f"/v1/business-units/{UNIT}/reviews"
    assert request.headers["apikey"] == KEY
    assert KEY not in str(request.url)  # the key stays out of URLs, logs and error text
    assert parse_qs(request.url.query.decode()) == {
        "page": ["1"], "perPage": ["20"], "orderBy": ["createdat.desc"], "language": ["de"],
    }  # fmt: skip
    assert [item.external_id for item in page.items] == ["674b2f9a1e7c4b0013d2a6c4"]
    assert page.cursor == {"high_water": 1796048469.0, "sweep": None}


def test_a_read_resumes_at_the_stored_page() -> None:
    api = FakeTrustpilot()
    api.records = copy.deepcopy(RECORDED["reviews"])
    cursor = {"high_water": 1795000000.0, "sweep": {"newest": 1796063000.0, "resume": {"page": 2}}}
    [page] = pull(api, cursor)
    assert parse_qs(api.requests[0].url.query.decode())["page"] == ["2"]
    assert [item.external_id for item in page.items] == ["6749f2c47a1b3d0012e5f0a9"]
    assert page.cursor == {"high_water": 1796063000.0, "sweep": None}


def test_the_read_stops_at_the_mark_even_with_a_next_page() -> None:
    api = FakeTrustpilot()
    api.records = copy.deepcopy(RECORDED["reviews"])
    mark = datetime(2026, 11, 30, 14, 21, 9, tzinfo=UTC).timestamp()  # the German review
    [page] = pull(api, {"high_water": mark, "sweep": None})
    assert len(api.requests) == 1
    assert [item.external_id for item in page.items] == [
        "674b5e1f9c2d3a0012f4b8a1", "674b2f9a1e7c4b0013d2a6c4",
    ]  # fmt: skip
    assert page.cursor["high_water"] == datetime(2026, 11, 30, 18, 41, 7, tzinfo=UTC).timestamp()


def test_a_wrong_key_fails_without_the_key_in_the_error() -> None:
    api = FakeTrustpilot()
    with pytest.raises(httpx.HTTPStatusError) as failure:
        pull(api, api_key="wrong-key-123")
    assert failure.value.response.status_code == 401
    assert "wrong-key-123" not in str(failure.value)


def test_loose_shapes_are_accepted() -> None:
    review = copy.deepcopy(RECORDED["reviews"][3])
    review.update({
        "id": 123456, "stars": "4", "companyReply": None, "location": "Leeds",
        "reply": {"message": "Thanks!", "createdAt": "2026-12-01T08:00:00Z"},
    })  # fmt: skip
    del review["consumer"]
    item = to_item(review)
    assert item is not None and item.external_id == "123456" and item.score == 4
    assert item.author is None and item.metadata["location"] == "Leeds"
    assert item.metadata["reply"] == {"message": "Thanks!", "created_at": "2026-12-01T08:00:00Z"}
    assert "consumer_id" not in item.metadata


def test_a_review_with_nothing_left_is_skipped() -> None:
    review = copy.deepcopy(RECORDED["reviews"][2])
    review.update({"stars": 0, "title": " ", "text": None})  # 0 stars is no rating
    assert to_item(review) is None


def test_a_body_without_links_pages_on_while_pages_are_full() -> None:
    bodies = [
        {"reviews": RECORDED["reviews"][:2]},
        {"reviews": RECORDED["reviews"][2:3]},
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=bodies.pop(0))

    async def run() -> list[Page]:
        settings = TrustpilotConfig.model_validate(config(per_page=2))
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            cursor = {"high_water": 1796000000.0, "sweep": None}
            return [page async for page in TrustpilotCollector().pull(client, settings, cursor)]

    first, last = asyncio.run(run())
    assert first.cursor["sweep"]["resume"] == {"page": 2} and len(first.items) == 2
    assert last.cursor["sweep"] is None and len(last.items) == 1


def test_recorded_reviews_with_optional_fields_missing_keep_every_good_one() -> None:
    """Real feeds omit `createdAt`, `consumer`, `links` now and then: the rest of the page is
    stored; an undated review gets `updatedAt`, else the read's time; no id: rejected alone."""
    complaint, praise, title_only, edited = copy.deepcopy(RECORDED["reviews"])
    del complaint["createdAt"], praise["consumer"], title_only["id"], edited["createdAt"]
    del edited["updatedAt"], edited["experiencedAt"]
    complaint["updatedAt"] = "2026-12-01T08:00:00Z"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"reviews": [complaint, praise, title_only, edited]})

    async def run() -> list[Page]:
        settings = TrustpilotConfig.model_validate(config(per_page=20))
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return [page async for page in TrustpilotCollector().pull(client, settings, None)]

    before = datetime.now(UTC)
    [page] = asyncio.run(run())
    by_id = {item.external_id: item for item in page.items}
    assert len(by_id) == 3 and len(page.rejected) == 1 and "`id`" in page.rejected[0]
    assert by_id[complaint["id"]].created_at == datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert by_id[praise["id"]].author is None
    assert by_id[edited["id"]].created_at >= before
