"""Mastodon (hashtag timeline, paged forward with min_id): recorded pages and the contract."""

import asyncio
import copy
import json
import time
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import ValidationError

from collectors.base import MalformedResponse, Page
from collectors.mastodon import MastodonCollector, MastodonConfig, to_item
from hub.feedback.models import Feedback
from tests.collectors.contract import NOW, CollectorContract, FakeApi
from tests.conftest import Database

HERE = Path(__file__).parent
PAGES: list[tuple[list[dict[str, Any]], dict[str, str]]] = [
    (
        json.loads((HERE / f"hashtag_timeline_paged.{n}.json").read_text("utf-8")),
        json.loads((HERE / f"hashtag_timeline_paged.{n}.headers.json").read_text("utf-8")),
    )
    for n in (1, 2, 3, 4)
]
STATUSES = [status for body, _ in PAGES for status in reversed(body)]  # oldest first
BY_ID = {status["id"]: status for status in STATUSES}
INSTANCE = "https://mastodon.fake.test"


def snowflake(when: datetime, sequence: int = 0) -> int:
    return (int(when.timestamp() * 1000) << 16) + (sequence & 0xFFFF)


def link_min_id(headers: dict[str, str], rel: str = "prev") -> str:
    """The id a ``Link`` header's ``rel`` link pages from (``min_id`` or ``max_id``)."""
    url = httpx.Response(200, headers=headers).links[rel]["url"]
    query = parse_qs(urlsplit(url).query)
    return query["min_id" if rel == "prev" else "max_id"][0]


class FakeMastodon(FakeApi):
    """The tag timeline: ids are snowflakes; min_id, since_id and max_id as Mastodon pages."""

    def __init__(self) -> None:
        super().__init__()
        self.headers = {k: v for k, v in PAGES[0][1].items() if k not in ("link", "etag")}

    def record(self, n: int, text: str, when: datetime) -> dict[str, Any]:
        status = copy.deepcopy(STATUSES[0])
        status_id = str(snowflake(when, n))
        status.update(
            id=status_id, created_at=when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            content=f"<p>{escape(text)} #cestia</p>", spoiler_text="",
            url=f"{INSTANCE}/@cestia_watch/{status_id}",
            tags=[{"name": "cestia", "url": f"{INSTANCE}/tags/cestia"}],
            uri=f"{INSTANCE}/users/cestia_watch/statuses/{status_id}",
        )  # fmt: skip
        return status

    def respond(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/timelines/tag/cestia"
        query = {key: values[0] for key, values in parse_qs(request.url.query.decode()).items()}
        limit = min(int(query.get("limit", 20)), 40)
        ascending = sorted(self.records, key=lambda status: int(status["id"]))
        if "max_id" in query:
            ascending = [s for s in ascending if int(s["id"]) < int(query["max_id"])]
        if "min_id" in query:  # the page just above min_id, shown newest first
            above = [s for s in ascending if int(s["id"]) > int(query["min_id"])]
            page = list(reversed(above[:limit]))
        else:  # since_id, or none: the newest page (above since_id)
            since = int(query.get("since_id", -1))
            page = [s for s in reversed(ascending) if int(s["id"]) > since][:limit]
        return httpx.Response(200, json=page, headers=self.link_headers(page, limit))

    def link_headers(self, page: list[dict[str, Any]], limit: int) -> dict[str, str]:
        """Mastodon's: ``next`` only after a full page, ``prev`` after any non-empty one."""
        headers = dict(self.headers)
        base = f"{INSTANCE}/api/v1/timelines/tag/cestia?limit={limit}"
        links = [f'<{base}&max_id={page[-1]["id"]}>; rel="next"'] if len(page) == limit else []
        if page:
            links.append(f'<{base}&min_id={page[0]["id"]}>; rel="prev"')
        if links:
            headers["link"] = ", ".join(links)
        return headers


class TestMastodonContract(CollectorContract):
    kind = "mastodon"

    def make_api(self) -> FakeApi:
        return FakeMastodon()

    def config(self) -> dict[str, Any]:
        return {"base_url": INSTANCE, "tag": "cestia", "limit": 3}

    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["id"])

    def check_item(self, stored: Feedback, record: dict[str, Any]) -> None:
        assert stored.channel == "social"
        assert stored.author == "cestia_watch" and stored.url == record["url"]
        assert stored.text is not None and stored.text.endswith(" #cestia")
        assert stored.created_at.isoformat(timespec="milliseconds").startswith(
            record["created_at"][:-1]
        )
        assert stored.meta is not None
        assert stored.meta["tags"] == ["cestia"] and stored.meta["source_language"] == "en"
        assert stored.meta["account_url"] == "https://mastodon.social/@cestia_watch"

    def stored_text(self, text: str) -> str:
        return f"{text} #cestia"  # the fake's statuses end with the followed hashtag

    def test_spent_rate_limit_waits_for_the_reset(self, source: Database, api: FakeApi) -> None:
        assert isinstance(api, FakeMastodon)
        api.add(api.page_size + 1, start=2000, newest=NOW - timedelta(hours=1))
        reset = datetime.fromtimestamp(time.time() + 5, UTC).isoformat().replace("+00:00", "Z")
        api.headers.update({"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})
        sleeps: list[float] = []
        report = self.pull(source, api, sleeps)
        assert (report.status, report.created) == ("ok", len(api.records))
        assert any(3.0 < seconds <= 5.0 for seconds in sleeps), sleeps


def run_pull(
    config: dict[str, Any], handler: Any, cursor: dict[str, Any] | None = None
) -> list[Page]:
    async def pull() -> list[Page]:
        settings = MastodonConfig.model_validate(config)
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return [page async for page in MastodonCollector().pull(client, settings, cursor)]

    return asyncio.run(pull())


def test_follows_the_recorded_pages_as_the_api_serves_them() -> None:
    seen: list[httpx.Request] = []
    start = snowflake(datetime(2026, 11, 30, 18, 0, tzinfo=UTC))

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        query = parse_qs(request.url.query.decode())
        assert request.url.path == "/api/v1/timelines/tag/cestia"
        assert query["limit"] == ["3"] and "since_id" not in query and "max_id" not in query
        if len(seen) == 1:
            assert query["min_id"] == [str(start)]
        else:  # each request goes on from the previous page's rel="prev" link
            assert query["min_id"] == [link_min_id(PAGES[len(seen) - 2][1])]
        body, headers = PAGES[len(seen) - 1]
        return httpx.Response(200, json=body, headers=headers)

    config = {"base_url": "https://mastodon.social", "tag": "#cestia", "limit": 3}
    pages = run_pull(config, handler, {"min_id": str(start)})
    assert len(seen) == 4  # three pages, then the empty one that ends the read
    assert [page.cursor for page in pages] == [
        {"min_id": link_min_id(headers)} for _, headers in PAGES[:3]
    ]
    stored = [item.external_id for page in pages for item in page.items]
    assert sorted(stored, key=int) == [status["id"] for status in STATUSES]
    assert "next" not in httpx.Response(200, headers=PAGES[2][1]).links  # a short page
    assert "link" not in PAGES[3][1]  # and the empty one has no links at all


def test_a_resumed_read_starts_above_its_cursor() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=PAGES[3][0], headers=PAGES[3][1])

    assert run_pull({"base_url": INSTANCE, "tag": "cestia"}, handler, {"min_id": "42"}) == []
    assert parse_qs(seen[0].url.query.decode()) == {"limit": ["40"], "min_id": ["42"]}


def test_a_first_pull_starts_at_the_snowflake_of_the_backfill_window() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    run_pull({"base_url": INSTANCE + "/", "tag": "cestia", "backfill_days": 7}, handler)
    [request] = seen
    assert str(request.url).startswith(f"{INSTANCE}/api/v1/timelines/tag/cestia?")
    assert "authorization" not in request.headers  # the tag timeline is public
    min_id = int(parse_qs(request.url.query.decode())["min_id"][0])
    assert abs((min_id >> 16) / 1000 - (time.time() - 7 * 86_400)) < 60
    seen.clear()
    config = {"base_url": INSTANCE, "tag": "café", "backfill_days": None, "access_token": "t0k"}
    run_pull(config, handler)
    assert seen[0].url.raw_path.startswith(b"/api/v1/timelines/tag/caf%C3%A9?")
    assert parse_qs(seen[0].url.query.decode())["min_id"] == ["0"]  # everything the server has
    assert seen[0].headers["authorization"] == "Bearer t0k"


def test_recorded_statuses_map_to_items() -> None:
    tracker, german, warned = STATUSES[0], STATUSES[1], STATUSES[2]
    item = to_item(tracker)
    assert item is not None
    assert item.external_id == "117706701636411607" and item.channel == "social"
    assert item.text == (
        "Day 3 of tracking my #Cestia orders: 2 of 5 arrived late, one had the oat milk swapped "
        'again. Their status page says "all systems operational" 🙃\n\n'
        "Log: https://cestia-watch.example/log\n\n#cestia #grocerydelivery"
    )
    assert item.title is None and item.author == "cestia_watch" and item.language == "en"
    assert item.created_at == datetime(2026, 11, 30, 18, 2, 11, 512000, tzinfo=UTC)
    assert item.url == "https://mastodon.social/@cestia_watch/117706701636411607"
    assert item.score is None and item.customer is None
    assert item.metadata == {
        "replies_count": 4, "reblogs_count": 7, "favourites_count": 19, "visibility": "public",
        "tags": ["cestia", "grocerydelivery"],
        "account_url": "https://mastodon.social/@cestia_watch",
        "display_name": "Groceries & Grievances",
    }  # fmt: skip

    remote = to_item(german)
    assert remote is not None and remote.author == "lena@chaos.social"
    assert remote.language == "de" and remote.url is not None
    assert remote.url.startswith("https://chaos.social/@lena/")
    assert remote.text is not None and "„Freunde einzuladen“" in remote.text
    assert remote.created_at == datetime(2026, 11, 30, 18, 9, 40, tzinfo=UTC)

    cw = to_item(warned)
    assert cw is not None and cw.title == "food delivery rant, swearing"
    assert cw.text is not None and cw.text.endswith(
        '"We understand your frustration" <- they do not'
    )


def test_recorded_edge_cases() -> None:
    misskey, reply, with_image = STATUSES[3], STATUSES[4], STATUSES[5]
    note = to_item(misskey)
    assert note is not None
    assert note.url == "https://misskey.io/notes/a1b2c3d4e5f6g7h8"  # url is null: the uri
    assert note.language is None and note.author == "hanako@misskey.io"
    assert note.text == "#cestia の配達、今日は20分で来た！でもアイスが少し溶けてた :blobcat:"  # noqa: RUF001
    answer = to_item(reply)
    assert answer is not None and answer.text is not None
    assert answer.text.startswith("@nightshift_nurse We're sorry about your order.")
    assert answer.metadata["edited_at"] == "2026-11-30T19:15:02.308Z"
    assert answer.metadata["in_reply_to_id"] == STATUSES[2]["id"]
    image = to_item(with_image)
    assert image is not None and image.metadata["media_count"] == 1
    assert image.metadata["tags"] == ["cestia", "programming"]


def test_boosts_and_empty_statuses_are_skipped() -> None:
    original = STATUSES[0]
    boost = {**original, "id": "117706701636499999", "content": "", "reblog": original}
    assert to_item(boost) is None  # the original is listed on its own
    assert to_item({**original, "content": "<p></p>", "spoiler_text": ""}) is None
    cw_only = to_item({**original, "content": "", "spoiler_text": "spoilers"})
    assert cw_only is not None and cw_only.title == "spoilers" and cw_only.text is None


def test_loose_values_are_accepted() -> None:
    status = {
        "id": 117706701636411607, "created_at": "2026-11-30T18:02:11", "content": "<p>ok</p>",
        "account": None, "tags": {"name": "cestia"}, "url": None, "uri": "tag:x,2026:1",
    }  # fmt: skip
    item = to_item(status)
    assert item is not None and item.external_id == "117706701636411607"
    assert item.created_at.tzinfo is not None and item.url is None and item.author is None
    assert item.metadata == {"tags": ["cestia"]}


def test_ids_compare_as_integers() -> None:
    def status(status_id: str) -> dict[str, Any]:
        return {**STATUSES[0], "id": status_id}

    def handler(request: httpx.Request) -> httpx.Response:
        if parse_qs(request.url.query.decode())["min_id"] == ["8"]:
            return httpx.Response(200, json=[status("10"), status("9")])
        return httpx.Response(200, json=[])

    [page] = run_pull({"base_url": INSTANCE, "tag": "cestia"}, handler, {"min_id": "8"})
    assert page.cursor == {"min_id": "10"}  # as strings, "9" would look newer


def test_a_page_that_does_not_move_forward_is_malformed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{**STATUSES[0], "id": "5"}])

    with pytest.raises(MalformedResponse, match="not above"):
        run_pull({"base_url": INSTANCE, "tag": "cestia"}, handler, {"min_id": "8"})


def test_a_body_out_of_shape_is_malformed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"error": "This API requires an authenticated user"})

    with pytest.raises(MalformedResponse):
        run_pull({"base_url": INSTANCE, "tag": "cestia"}, handler)


def test_recorded_statuses_with_optional_fields_missing_keep_every_good_one() -> None:
    """A status without a readable `created_at` is dated by its snowflake id, one without an
    id is rejected alone: the page's other statuses are kept."""
    body = [dict(status) for status in PAGES[0][0]]
    body[0].pop("created_at")
    body[1]["created_at"] = "yesterday"
    body[1].pop("account"), body[1].pop("tags", None), body[1].pop("url"), body[1].pop("uri")
    no_id = {**body[2], "id": "abc"}
    start = snowflake(datetime(2026, 11, 30, 18, 0, tzinfo=UTC))

    def handler(request: httpx.Request) -> httpx.Response:
        above = int(parse_qs(request.url.query.decode())["min_id"][0]) < int(body[0]["id"])
        return httpx.Response(200, json=[*body, no_id] if above else [])

    pages = run_pull({"base_url": INSTANCE, "tag": "cestia"}, handler, {"min_id": str(start)})
    items = {item.external_id: item for page in pages for item in page.items}
    assert set(items) == {status["id"] for status in body}
    assert [reason for page in pages for reason in page.rejected] == [
        f"a status lacks a numeric `id`: {json.dumps(no_id)[:200]}"
    ]
    for status in body[:2]:
        minted = datetime.fromtimestamp((int(status["id"]) >> 16) / 1000, UTC)
        assert items[status["id"]].created_at == minted
    assert items[body[1]["id"]].author is None and items[body[1]["id"]].url is None


def test_a_page_of_statuses_without_ids_keeps_the_cursor() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"id": "abc", "content": "<p>hi</p>"}])

    [page] = run_pull({"base_url": INSTANCE, "tag": "cestia"}, handler, {"min_id": "8"})
    assert (page.items, page.cursor, len(page.rejected)) == ([], {"min_id": "8"}, 1)


def test_config() -> None:
    with pytest.raises(ValidationError, match="base_url"):
        MastodonConfig.model_validate({"tag": "cestia"})  # no default instance
    with pytest.raises(ValidationError, match="hashtag"):
        MastodonConfig.model_validate({"base_url": INSTANCE, "tag": "two words"})
    with pytest.raises(ValidationError, match="limit"):
        MastodonConfig.model_validate({"base_url": INSTANCE, "tag": "cestia", "limit": 41})
    config = MastodonConfig.model_validate({"base_url": INSTANCE, "tag": " #Cestia "})
    assert (config.tag, config.limit, config.backfill_days) == ("Cestia", 40, 30)
