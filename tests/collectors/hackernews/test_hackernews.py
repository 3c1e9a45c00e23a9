"""Hacker News (Algolia search_by_date): the recorded shape, and the collector contract."""

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx

from collectors.hackernews import HackerNewsCollector, HackerNewsConfig, to_item
from hub.feedback.models import Feedback
from tests.collectors.contract import CollectorContract, FakeApi

RECORDED = json.loads((Path(__file__).parent / "search_by_date.json").read_text("utf-8"))


class FakeAlgolia(FakeApi):
    """``search_by_date``: newest first, numeric filters on created_at_i, page/hitsPerPage."""

    def record(self, n: int, text: str, when: datetime) -> dict[str, Any]:
        hit = dict(RECORDED["hits"][0])
        stamp = int(when.timestamp())
        return {
            **hit,
            "objectID": str(n),
            "comment_text": text.replace("&", "&amp;").replace("<", "&lt;"),
            "created_at_i": stamp,
            "created_at": datetime.fromtimestamp(stamp, UTC).isoformat().replace("+00:00", "Z"),
        }

    def respond(self, request: httpx.Request) -> httpx.Response:
        query = parse_qs(request.url.query.decode())
        hits = sorted(self.records, key=lambda hit: hit["created_at_i"], reverse=True)
        for rule in query.get("numericFilters", [""])[0].split(","):
            if match := re.fullmatch(r"created_at_i(>=|>|<|<=)(\d+)", rule):
                op, value = match.group(1), int(match.group(2))
                hits = [h for h in hits if _compare(h["created_at_i"], op, value)]
        per_page = int(query["hitsPerPage"][0])
        page = int(query.get("page", ["0"])[0])
        shown = hits[page * per_page : (page + 1) * per_page]
        return httpx.Response(200, json={
            **{k: v for k, v in RECORDED.items() if k != "hits"},
            "hits": shown, "nbHits": len(hits), "page": page, "hitsPerPage": per_page,
            "nbPages": -(-len(hits) // per_page),
        })  # fmt: skip


def _compare(left: int, op: str, right: int) -> bool:
    return {">=": left >= right, ">": left > right, "<": left < right, "<=": left <= right}[op]


class TestHackerNewsContract(CollectorContract):
    kind = "hackernews"

    def make_api(self) -> FakeApi:
        return FakeAlgolia()

    def config(self) -> dict[str, Any]:
        return {"base_url": "https://hn.fake.test/api/v1", "query": "cestia", "page_size": 3}

    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["objectID"])

    def check_item(self, stored: Feedback, record: dict[str, Any]) -> None:
        assert stored.channel == "social"
        assert stored.author == record["author"]
        assert stored.url == f"https://news.ycombinator.com/item?id={record['objectID']}"
        assert int(stored.created_at.timestamp()) == record["created_at_i"]
        assert stored.meta is not None and stored.meta["story_id"] == record["story_id"]


def test_recorded_hits_map_to_items() -> None:
    comment, story, deleted = RECORDED["hits"]
    item = to_item(comment)
    assert item is not None
    assert item.text == (
        "I switched to Cestia last month. The app is fast, but the substitutions are maddening: "
        'I ordered oat milk and got "milk-flavoured drink".\n\n'
        "Support refunded it within minutes, to be fair & polite."
    )
    assert item.title is None and item.author == "tptacek"
    assert item.created_at == datetime(2026, 11, 30, 18, 2, 11, tzinfo=UTC)
    assert item.metadata["story_title"] == "Ask HN: Grocery delivery apps that don't suck?"
    link_story = to_item(story)
    assert link_story is not None
    assert link_story.title == "Cestia raises prices for the third time this year"
    assert link_story.text is None
    assert link_story.metadata["link"] == "https://example.com/news/cestia-prices"
    assert link_story.metadata["points"] == 231
    assert to_item(deleted) is None  # a deleted comment has no words left


def test_the_request_carries_the_query_and_the_time_window() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={**RECORDED, "hits": RECORDED["hits"][:1]})

    async def pull() -> list[Any]:
        config = HackerNewsConfig(base_url="https://hn.fake.test/api/v1", query="cestia app")  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            cursor = {"high_water": 1796000000, "sweep": None}
            return [page async for page in HackerNewsCollector().pull(client, config, cursor)]

    [page] = asyncio.run(pull())
    query = parse_qs(seen[0].url.query.decode())
    assert seen[0].url.path == "/api/v1/search_by_date"
    assert query["query"] == ["cestia app"] and query["tags"] == ["(story,comment)"]
    assert query["numericFilters"] == ["created_at_i>=1796000000"]
    assert page.cursor == {"high_water": 1796061731.0, "sweep": None}


def test_recorded_hits_with_optional_fields_missing_keep_every_good_one() -> None:
    """A hit without `created_at_i` is dated by `created_at` (else the read's time), one
    without `objectID` is rejected alone: the page's other hits are kept."""
    comment, story, deleted = (dict(hit) for hit in RECORDED["hits"])
    del comment["created_at_i"], comment["author"], story["created_at_i"], story["created_at"]
    del story["points"], story["num_comments"], deleted["objectID"]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={**RECORDED, "hits": [comment, story, deleted]})

    async def pull() -> list[Any]:
        config = HackerNewsConfig(base_url="https://hn.fake.test/api/v1", query="cestia")  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            cursor = {"high_water": 1796000000, "sweep": None}
            return [page async for page in HackerNewsCollector().pull(client, config, cursor)]

    before = datetime.now(UTC)
    [page] = asyncio.run(pull())
    by_id = {item.external_id: item for item in page.items}
    assert len(by_id) == 2 and len(page.rejected) == 1 and "objectID" in page.rejected[0]
    assert by_id[comment["objectID"]].created_at == datetime(2026, 11, 30, 18, 2, 11, tzinfo=UTC)
    assert by_id[comment["objectID"]].author is None
    assert by_id[story["objectID"]].created_at >= before
