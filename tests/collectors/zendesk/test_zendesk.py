"""Zendesk CSAT (satisfaction ratings): the recorded shape, and the collector contract."""

import asyncio
import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from pydantic import ValidationError

from collectors.base import Cursor, MalformedResponse, Page
from collectors.zendesk import ZendeskCollector, ZendeskConfig, to_item
from hub.feedback.models import Feedback
from hub.sources.transport import rate_limit_reset_at
from tests.collectors.contract import NOW, CollectorContract, FakeApi

HERE = Path(__file__).parent
RECORDED = json.loads((HERE / "satisfaction_ratings.json").read_text("utf-8"))
HEADERS: dict[str, str] = json.loads(
    (HERE / "satisfaction_ratings.headers.json").read_text("utf-8")
)
BASE = "https://acme.zendesk.fake.test"
PATH = "/api/v2/satisfaction_ratings.json"
EMAIL, TOKEN = "admin@acme.example", "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv"
BASIC = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def stamp(rating: dict[str, Any]) -> float:
    return datetime.fromisoformat(rating["created_at"].replace("Z", "+00:00")).timestamp()


def token(rating: dict[str, Any]) -> str:
    position = json.dumps({"o": "id", "v": [stamp(rating), rating["id"]]})
    return base64.urlsafe_b64encode(position.encode()).decode()


def untoken(value: str) -> tuple[float, int]:
    when, rating_id = json.loads(base64.urlsafe_b64decode(value))["v"]
    return float(when), int(rating_id)


def score_matches(score: str, comment: str | None, wanted: str) -> bool:
    """Zendesk's score filter: received = good or bad; ``_with_comment`` narrows further."""
    base, _, qualifier = wanted.partition("_with")
    kinds = {"received": {"good", "bad"}}.get(base, {base})
    if score not in kinds:
        return False
    has_comment = bool(comment and comment.strip())
    return {"": True, "_comment": has_comment, "out_comment": not has_comment}[qualifier]


class FakeZendesk(FakeApi):
    """``satisfaction_ratings.json``: start_time, score filter, oldest first, page[size]/[after]."""

    def record(self, n: int, text: str, when: datetime) -> dict[str, Any]:
        rating = copy.deepcopy(RECORDED["satisfaction_ratings"][0])
        return {
            **rating,
            "id": n,
            "url": f"{BASE}/api/v2/satisfaction_ratings/{n}.json",
            "requester_id": 90_000 + n,
            "ticket_id": 40_000 + n,
            "comment": text,
            "created_at": iso(when),
            "updated_at": iso(when),
        }

    def respond(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != BASIC:
            return httpx.Response(401, json={"error": "Couldn't authenticate you"})
        assert request.url.path == PATH, request.url.path
        query = {key: values[0] for key, values in parse_qs(request.url.query.decode()).items()}
        size = int(query.get("page[size]", "100"))
        assert 1 <= size <= 100 and "page" not in query
        ratings = sorted(self.records, key=lambda r: (stamp(r), r["id"]))
        ratings = [r for r in ratings if stamp(r) >= int(query.get("start_time", "0"))]
        if "score" in query:
            ratings = [
                r for r in ratings if score_matches(r["score"], r["comment"], query["score"])
            ]
        if "page[after]" in query:
            after = untoken(query["page[after]"])
            ratings = [r for r in ratings if (stamp(r), r["id"]) > after]
        shown, more = ratings[:size], len(ratings) > size
        return httpx.Response(200, headers=HEADERS, json=self._body(query, shown, more))

    @staticmethod
    def _body(query: dict[str, str], shown: list[dict[str, Any]], more: bool) -> dict[str, Any]:
        after = token(shown[-1]) if shown else None
        before = token(shown[0]) if shown else None
        rest = {k: v for k, v in query.items() if not k.startswith("page[")}
        link = f"{BASE}{PATH}?" + urlencode({"page[size]": query.get("page[size]", "100"), **rest})
        return {
            "satisfaction_ratings": shown,
            "meta": {"has_more": more, "after_cursor": after, "before_cursor": before},
            "links": {
                "prev": f"{link}&{urlencode({'page[before]': before})}" if before else None,
                "next": f"{link}&{urlencode({'page[after]': after})}" if more else None,
            },
        }


CONFIG = {"base_url": BASE, "email": EMAIL, "api_token": TOKEN, "page_size": 3}


class TestZendeskContract(CollectorContract):
    kind = "zendesk"

    def make_api(self) -> FakeApi:
        return FakeZendesk()

    def config(self) -> dict[str, Any]:
        return dict(CONFIG)

    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["id"])

    def check_item(self, stored: Feedback, record: dict[str, Any]) -> None:
        assert (stored.channel, stored.score_type, stored.score) == ("rating", "thumbs", 1)
        assert stored.url == f"{BASE}/agent/tickets/{record['ticket_id']}"
        assert stored.customer_id is not None
        assert stored.created_at.timestamp() == stamp(record)
        assert stored.meta is not None and stored.meta["ticket_id"] == record["ticket_id"]
        assert stored.meta["url"] == record["url"]

    def test_a_changed_rating_is_a_duplicate_and_the_first_is_kept(
        self, source: Any, api: FakeZendesk
    ) -> None:
        api.add(1, start=1600, newest=NOW - timedelta(hours=2))
        api.records[0].update(score="bad", comment="Still waiting for my refund")
        assert self.pull(source, api).created == 1
        # The customer changes their mind after a follow-up: same id, newer updated_at.
        api.records[0].update(score="good", comment="Refund arrived, thanks", updated_at=iso(NOW))
        again = self.pull(source, api)
        assert (again.status, again.created, again.duplicate) == ("ok", 0, 1)
        [row] = self.stored(source)
        assert (row.score, row.text) == (0, "Still waiting for my refund")


def test_recorded_ratings_map_to_items() -> None:
    good, bad, offered, portuguese, silent, unoffered = RECORDED["satisfaction_ratings"]
    site = "https://acme.zendesk.com"
    item = to_item(good, site)
    assert item is not None
    assert (item.external_id, item.channel, item.score_type, item.score) == (
        "27193846105236", "rating", "thumbs", 1,
    )  # fmt: skip
    assert item.text == good["comment"]
    assert item.created_at == datetime(2026, 4, 14, 8, 12, 37, tzinfo=UTC)
    assert item.url == "https://acme.zendesk.com/agent/tickets/48213"
    assert item.customer == {"ref": "zendesk:27193811764884"}
    assert item.metadata == {
        "ticket_id": 48213,
        "assignee_id": 1903284710392,
        "group_id": 360003918271,
        "url": good["url"],
        "updated_at": "2026-04-14T08:13:02Z",
        "rating": "good",
    }  # "No reason provided" (reason_code 0) is left out as noise
    unhappy = to_item(bad, site)
    assert unhappy is not None and unhappy.score == 0
    assert unhappy.text is not None and unhappy.text.startswith("Three days and four agents")
    assert unhappy.metadata["reason"] == "The issue took too long to resolve"
    assert (unhappy.metadata["reason_code"], unhappy.metadata["reason_id"]) == (5, 360000254871)
    assert to_item(offered, site) is None and to_item(unoffered, site) is None
    accented = to_item(portuguese, site)
    assert accented is not None
    assert accented.text == "Atendimento rápido e muito atencioso — obrigado, João! 👍"
    assert "group_id" not in accented.metadata  # null in the response
    score_only = to_item(silent, site)  # a thumbs-up without a comment is still feedback
    assert score_only is not None and (score_only.text, score_only.score) == (None, 1)


def test_an_offered_rating_with_a_comment_is_kept_without_a_score() -> None:
    offered = {**RECORDED["satisfaction_ratings"][2], "comment": "Why was this closed?"}
    item = to_item(offered, "https://acme.zendesk.com")
    assert item is not None
    assert (item.text, item.score_type, item.score) == ("Why was this closed?", None, None)
    assert item.metadata["rating"] == "offered"
    # The same requester as the first recorded rating: one customer, one history.
    first = to_item(RECORDED["satisfaction_ratings"][0], "https://acme.zendesk.com")
    assert first is not None and item.customer == first.customer


async def _pull(
    config: ZendeskConfig, cursor: Cursor | None, responses: list[httpx.Response]
) -> tuple[list[Page], list[httpx.Request]]:
    """Pages pulled while ``responses`` are served in turn, up to the first HTTP error."""
    seen: list[httpx.Request] = []
    pages: list[Page] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses[len(seen) - 1]

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        try:
            async for page in ZendeskCollector().pull(client, config, cursor):
                pages.append(page)
        except httpx.HTTPStatusError:
            pass
    return pages, seen


def last_page(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "meta": {**body["meta"], "has_more": False}, "links": {}}


def test_the_request_carries_start_time_score_page_size_and_token_auth() -> None:
    config = ZendeskConfig.model_validate({"subdomain": "Acme", "email": EMAIL, "api_token": TOKEN})
    cursor = {"start_time": 1776124800, "newest": 1776124800, "after": "eyJvIjoiaWQifQ=="}
    pages, [request] = asyncio.run(
        _pull(config, cursor, [httpx.Response(200, json=last_page(RECORDED))])
    )
    assert (request.method, request.url.host, request.url.path) == ("GET", "acme.zendesk.com", PATH)
    assert parse_qs(request.url.query.decode()) == {
        "start_time": ["1776124800"], "score": ["received"],
        "page[size]": ["100"], "page[after]": ["eyJvIjoiaWQifQ=="],
    }  # fmt: skip
    assert request.headers["authorization"] == BASIC
    newest = datetime(2026, 4, 14, 13, 5, 50, tzinfo=UTC).timestamp()  # the unoffered one
    assert pages[0].cursor == {"start_time": int(newest) - 1}  # re-read the boundary second


def test_a_page_with_more_keeps_the_start_time_and_records_the_after_cursor() -> None:
    config = ZendeskConfig.model_validate(
        {"base_url": BASE, "access_token": "oauth-abc", "score": None}
    )
    responses = [httpx.Response(200, json=RECORDED), httpx.Response(400, json={"error": "x"})]
    [page], [first, second] = asyncio.run(_pull(config, {"start_time": 1776124800}, responses))
    assert first.headers["authorization"] == "Bearer oauth-abc"
    assert "score" not in parse_qs(first.url.query.decode())
    assert [item.external_id for item in page.items] == [
        "27193846105236", "27193902238100", "27194010347540", "27194063918228",
    ]  # fmt: skip
    assert page.cursor == {
        "start_time": 1776124800, "after": RECORDED["meta"]["after_cursor"],
        "newest": datetime(2026, 4, 14, 13, 5, 50, tzinfo=UTC).timestamp(),
    }  # fmt: skip
    assert second.url.params["start_time"] == "1776124800"
    assert second.url.params["page[after]"] == RECORDED["meta"]["after_cursor"]


def test_the_legacy_offset_shape_is_followed_by_page_number() -> None:
    ratings = RECORDED["satisfaction_ratings"]
    next_page = f"https://acme.zendesk.com{PATH}?page=2&per_page=100&start_time=1776124800"
    first = {"satisfaction_ratings": ratings[:3], "next_page": next_page,
             "previous_page": None, "count": 6}  # fmt: skip
    second = {"satisfaction_ratings": ratings[3:], "next_page": None,
              "previous_page": next_page.replace("page=2", "page=1"), "count": 6}  # fmt: skip
    config = ZendeskConfig.model_validate({"subdomain": "acme", "access_token": "oauth-abc"})
    responses = [httpx.Response(200, json=first), httpx.Response(200, json=second)]
    pages, seen = asyncio.run(_pull(config, {"start_time": 1776124800}, responses))
    assert [len(page.items) for page in pages] == [2, 2]
    assert pages[0].cursor["page"] == 2 and "after" not in pages[0].cursor
    query = parse_qs(seen[1].url.query.decode())
    assert (query["page"], query["per_page"]) == (["2"], ["100"]) and "page[size]" not in query
    assert "start_time" in pages[1].cursor and "page" not in pages[1].cursor


def test_has_more_without_a_cursor_is_malformed() -> None:
    body = {**RECORDED, "meta": {"has_more": True, "after_cursor": None}, "links": {"next": None}}
    config = ZendeskConfig.model_validate({"subdomain": "acme", "access_token": "oauth-abc"})
    with pytest.raises(MalformedResponse, match="after_cursor"):
        asyncio.run(_pull(config, None, [httpx.Response(200, json=body)]))


def test_recorded_ratings_with_optional_fields_missing_keep_every_good_one() -> None:
    """A rating without times is dated at the read (and leaves the mark), one without `id` is
    rejected alone, missing ticket/requester/reason fields are fine: the page is stored."""
    good, bad, _offered, portuguese, _silent, unoffered = copy.deepcopy(
        RECORDED["satisfaction_ratings"]
    )
    del good["created_at"], good["updated_at"], bad["ticket_id"], bad["requester_id"]
    del portuguese["reason"], portuguese["id"]
    body = last_page({**RECORDED, "satisfaction_ratings": [good, bad, portuguese, unoffered]})
    config = ZendeskConfig.model_validate({"subdomain": "acme", "access_token": "oauth-abc"})
    before = datetime.now(UTC)
    [page], _ = asyncio.run(
        _pull(config, {"start_time": 1776124800}, [httpx.Response(200, json=body)])
    )
    by_id = {item.external_id: item for item in page.items}
    assert set(by_id) == {str(good["id"]), str(bad["id"])}
    assert len(page.rejected) == 1 and "lacks `id`" in page.rejected[0]
    assert by_id[str(good["id"])].created_at >= before
    assert by_id[str(bad["id"])].url is None and by_id[str(bad["id"])].customer is None
    newest = datetime(2026, 4, 14, 13, 5, 50, tzinfo=UTC).timestamp()  # the unoffered one
    assert page.cursor == {"start_time": int(newest) - 1}


def test_an_empty_listing_ends_the_read_where_it_started() -> None:
    body = {"satisfaction_ratings": [], "meta": {"has_more": False, "after_cursor": None,
            "before_cursor": None}, "links": {"prev": None, "next": None}}  # fmt: skip
    config = ZendeskConfig.model_validate({"subdomain": "acme", "access_token": "oauth-abc"})
    [page], _ = asyncio.run(
        _pull(config, {"start_time": 1776124800}, [httpx.Response(200, json=body)])
    )
    assert page.items == [] and page.cursor == {"start_time": 1776124800}


def test_the_config_builds_the_url_from_the_subdomain_and_checks_auth() -> None:
    config = ZendeskConfig.model_validate(
        {"subdomain": " ACME ", "email": EMAIL, "api_token": TOKEN}
    )
    assert (config.subdomain, str(config.base_url)) == ("acme", "https://acme.zendesk.com/")
    stored = config.model_dump(mode="json") | {"api_token": TOKEN, "subdomain": "other"}
    assert str(ZendeskConfig.model_validate(stored).base_url) == "https://other.zendesk.com/"
    bad = [
        {"subdomain": "acme.evil.com", "access_token": "t"},
        {"subdomain": "-acme", "access_token": "t"},
        {"access_token": "t"},  # neither subdomain nor base_url
        {"subdomain": "acme"},  # no credentials
        {"subdomain": "acme", "email": EMAIL},  # a token login without the token
        {"subdomain": "acme", "email": EMAIL, "api_token": TOKEN, "access_token": "t"},
        {"subdomain": "acme", "access_token": "t", "page_size": 101},
        {"subdomain": "acme", "access_token": "t", "score": "excellent"},
    ]
    for data in bad:
        with pytest.raises(ValidationError):
            ZendeskConfig.model_validate(data)


def test_the_recorded_rate_limit_headers_pace_only_when_spent() -> None:
    assert rate_limit_reset_at(httpx.Headers(HEADERS), now=1000.0) is None
    spent = httpx.Headers({**HEADERS, "x-rate-limit-remaining": "0"})
    assert rate_limit_reset_at(spent, now=1000.0) is not None
