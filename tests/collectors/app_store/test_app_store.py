"""Apple App Store (customer-reviews RSS, JSON): the recorded shapes, and the collector contract."""

import asyncio
import copy
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from collectors.appstore import AppStoreCollector, AppStoreConfig, reviews_of, to_item
from collectors.base import Cursor, MalformedResponse, Page
from hub.feedback.models import Feedback
from tests.collectors.contract import CollectorContract, FakeApi

HERE = Path(__file__).parent
JP_PAGE = json.loads((HERE / "customerreviews_jp_page1.json").read_text("utf-8"))
SINGLE = json.loads((HERE / "customerreviews_single_entry.json").read_text("utf-8"))
EMPTY = json.loads((HERE / "customerreviews_empty_page.json").read_text("utf-8"))
LEGACY = json.loads((HERE / "customerreviews_legacy_app_entry.json").read_text("utf-8"))
PATH = re.compile(r"/(\w\w)/rss/customerreviews/page=(\d+)/id=(\d+)/sortBy=mostRecent/json")
CUPERTINO = timezone(timedelta(hours=-7))  # the feed writes times in Apple's own offset


def feed_page(country: str, app_id: str, page: int, last: int, entries: Any) -> dict[str, Any]:
    """A page in the feed's shape: the recorded page's envelope around ``entries``."""
    feed = copy.deepcopy(EMPTY["feed"])
    base = f"https://itunes.apple.com/{country}/rss/customerreviews"
    desc = f"xml?urlDesc=/customerreviews/id={app_id}/sortBy=mostRecent/json"
    numbers = {"self": page, "first": 1, "last": last, "next": min(page + 1, last)}
    feed["link"] = [
        {"attributes": {"rel": rel, "href": f"{base}/page={number}/id={app_id}/sortby=mostrecent/"
                        + ("json" if rel == "self" else desc)}}
        for rel, number in numbers.items()
    ]  # fmt: skip
    if entries is not None:
        feed = {"author": feed["author"], "entry": entries, **feed}
    return {"feed": feed}


class FakeAppStore(FakeApi):
    """The RSS feed: newest first, ``page_size`` a page, pages 1-10, `rel=last`, quirks kept."""

    def record(self, n: int, text: str, when: datetime) -> dict[str, Any]:
        entry = copy.deepcopy(JP_PAGE["feed"]["entry"][1])
        entry["id"] = {"label": str(n)}
        entry["content"] = {"label": text, "attributes": {"type": "text"}}
        entry["title"] = {"label": f"Review {n}"}
        entry["im:rating"] = {"label": str(n % 5 + 1)}
        entry["author"]["name"] = {"label": f"reviewer-{n}"}
        entry["updated"] = {"label": when.astimezone(CUPERTINO).isoformat()}
        return entry

    def respond(self, request: httpx.Request) -> httpx.Response:
        match = PATH.fullmatch(request.url.path)
        assert match, request.url
        country, page, app_id = match.group(1), int(match.group(2)), match.group(3)
        if page > 10:
            return httpx.Response(400, text="CustomerReviews RSS page depth is limited to 10")
        newest = sorted(
            self.records, key=lambda e: datetime.fromisoformat(e["updated"]["label"]), reverse=True
        )
        last = max(1, min(10, -(-len(newest) // self.page_size)))
        shown = newest[(page - 1) * self.page_size : page * self.page_size]
        # The real feed's quirks: one review comes as an object, none as no `entry` at all.
        entries = None if not shown else shown[0] if len(shown) == 1 else shown
        return httpx.Response(200, json=feed_page(country, app_id, page, last, entries))


class TestAppStoreContract(CollectorContract):
    kind = "app_store"

    def make_api(self) -> FakeApi:
        return FakeAppStore()

    def config(self) -> dict[str, Any]:
        return {"base_url": "https://itunes.fake.test", "app_id": "1459812345"}

    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["id"]["label"])

    def check_item(self, stored: Feedback, record: dict[str, Any]) -> None:
        assert stored.channel == "review"
        assert (stored.score_type, stored.score) == ("stars", int(record["im:rating"]["label"]))
        assert stored.title == record["title"]["label"]
        assert stored.author == record["author"]["name"]["label"]
        assert stored.url == record["author"]["uri"]["label"]
        when = datetime.fromisoformat(record["updated"]["label"])
        assert stored.created_at.replace(tzinfo=UTC) == when
        assert stored.meta is not None
        assert stored.meta["country"] == "us" and stored.meta["app_id"] == "1459812345"


# -- the recorded shapes --------------------------------------------------------------------


def test_recorded_japanese_page_maps_field_by_field() -> None:
    entries, rejected = reviews_of(JP_PAGE["feed"])
    assert len(entries) == 5 and rejected == []
    item = to_item(entries[0], country="jp", app_id="1459812345")
    assert item is not None
    assert item.external_id == "11937402216"
    assert item.channel == "review"
    assert (item.score_type, item.score) == ("stars", 1)
    assert item.title == "アップデート後にログインできない"
    assert item.text == (
        "最新版にアップデートしてから、何度パスワードを入れても「エラーが発生しました」と表示されて"
        "ログインできません。\n再インストールしても同じです。早急に直してください。"
    )
    assert item.author == "たなか　ゆうき"
    assert item.url == "https://itunes.apple.com/jp/reviews/id1218899472"
    assert item.created_at == datetime(2026, 12, 1, 2, 42, 7, tzinfo=UTC)
    assert item.language is None  # the feed says nothing of the language
    assert item.metadata == {
        "version": "4.12.0", "vote_sum": 3, "vote_count": 4, "country": "jp",
        "app_id": "1459812345",
    }  # fmt: skip
    emoji = to_item(entries[1], country="jp", app_id="1459812345")
    assert emoji is not None and emoji.text is not None and emoji.text.endswith("届きました😊")
    # A review with only blanks for words is kept for its title and stars.
    blank = to_item(entries[4], country="jp", app_id="1459812345")
    assert blank is not None and blank.text is None
    assert (blank.title, blank.score) == ("★4", 4)


def test_a_single_review_comes_as_an_object() -> None:
    [entry], _ = reviews_of(SINGLE["feed"])
    item = to_item(entry, country="us", app_id="1459812345")
    assert item is not None and item.external_id == "11929548371"
    assert item.created_at == datetime(2026, 11, 27, 23, 20, 33, tzinfo=UTC)


def test_an_empty_page_has_no_entries() -> None:
    assert "entry" not in EMPTY["feed"]
    assert reviews_of(EMPTY["feed"]) == ([], [])


def test_the_app_metadata_entry_of_older_feeds_is_skipped() -> None:
    entries, _ = reviews_of(LEGACY["feed"])
    assert [entry["id"]["label"] for entry in entries] == ["4210553871", "4209117306"]


def test_content_as_text_and_html_takes_the_text() -> None:
    entry = copy.deepcopy(SINGLE["feed"]["entry"])
    entry["content"] = [
        {"label": "<table><tr><td>Good app</td></tr></table>", "attributes": {"type": "html"}},
        {"label": "Good app", "attributes": {"type": "text"}},
    ]
    entry["link"] = [entry["link"], {"attributes": {"rel": "alternate", "href": "https://x.test"}}]
    del entry["author"]["uri"], entry["im:voteSum"]
    item = to_item(entry, country="us", app_id="1")
    assert item is not None and item.text == "Good app"
    assert item.url is None and "vote_sum" not in item.metadata


@pytest.mark.parametrize(
    "change",
    [
        lambda entry: entry.pop("updated"),
        lambda entry: entry.update(updated={"label": "yesterday"}),
    ],
)
def test_a_review_without_a_date_gets_the_feeds_time(change: Any) -> None:
    entry = copy.deepcopy(SINGLE["feed"]["entry"])
    change(entry)
    [kept], rejected = reviews_of({"entry": [entry]})
    assert rejected == []
    feed_updated = datetime(2026, 12, 1, 23, 10, 44, tzinfo=CUPERTINO)
    item = to_item(kept, country="us", app_id="1", undated=feed_updated)
    assert item is not None and item.created_at == feed_updated


def test_entries_that_cannot_be_reviews_are_rejected_alone() -> None:
    entry = copy.deepcopy(SINGLE["feed"]["entry"])
    no_id = copy.deepcopy(entry)
    no_id.pop("id")
    kept, rejected = reviews_of({"entry": [no_id, "not an object", entry]})
    assert kept == [entry]
    assert len(rejected) == 2
    assert "no `id.label`" in rejected[0] and "not an object" in rejected[1]


def test_a_recorded_page_with_optional_fields_missing_keeps_every_good_review() -> None:
    """Real feeds omit `updated` (and more) on some entries: the page still stores the rest."""
    page = copy.deepcopy(JP_PAGE)
    entries = page["feed"]["entry"]
    del entries[0]["updated"], entries[1]["im:version"], entries[1]["author"]
    del entries[2]["im:voteSum"], entries[2]["im:voteCount"], entries[3]["id"]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=page if "/page=1/" in request.url.path else EMPTY)

    pages, _ = pull(handler, app_id="1459812345", countries=["jp"])
    items = [item for read in pages for item in read.items]
    assert len(items) == 4
    assert sum(len(read.rejected) for read in pages) == 1
    by_id = {item.external_id: item for item in items}
    assert by_id["11937402216"].created_at == datetime(2026, 12, 1, 23, 10, 44, tzinfo=CUPERTINO)
    assert by_id[entries[1]["id"]["label"]].author is None


def test_config_takes_store_style_ids_and_country_codes() -> None:
    config = AppStoreConfig(app_id="id1459812345", countries=["JP", "us", "jp"])
    assert (config.app_id, config.countries) == ("1459812345", ["jp", "us"])
    with pytest.raises(ValueError, match="country"):
        AppStoreConfig(app_id="1", countries=["japan"])


# -- the requests and the read ----------------------------------------------------------------


def pull(
    handler: Any, cursor: Cursor | None = None, **config: Any
) -> tuple[list[Page], list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    async def run() -> list[Page]:
        settings = AppStoreConfig(base_url="https://itunes.fake.test", **config)
        async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
            return [page async for page in AppStoreCollector().pull(client, settings, cursor)]

    return asyncio.run(run()), seen


def test_the_request_names_country_page_app_and_order() -> None:
    pages, seen = pull(
        lambda request: httpx.Response(200, json=SINGLE, headers={"content-type": "text/json"}),
        app_id="1459812345",
        backfill_days=30,
        cursor={"countries": {"us": {"high_water": 1796000000.0, "sweep": None}}},
    )
    assert [str(request.url) for request in seen] == [
        "https://itunes.fake.test/us/rss/customerreviews/page=1/id=1459812345/sortBy=mostRecent/json"
    ]
    assert seen[0].method == "GET" and "authorization" not in seen[0].headers
    [page] = pages
    assert page.cursor == {"countries": {"us": {"high_water": 1796000000.0, "sweep": None}}}
    assert [item.external_id for item in page.items] == []  # older than the mark


def test_each_country_is_its_own_sweep() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/us/"):
            return httpx.Response(200, json=SINGLE)
        return httpx.Response(200, json=JP_PAGE if "/page=1/" in request.url.path else EMPTY)

    pages, seen = pull(handler, app_id="1459812345", countries=["jp", "us"])
    assert [request.url.path.split("/")[1:4] for request in seen] == [
        ["jp", "rss", "customerreviews"], ["jp", "rss", "customerreviews"],
        ["us", "rss", "customerreviews"],
    ]  # fmt: skip
    assert "page=2" in seen[1].url.path  # the jp feed says there are 10 pages
    # The jp read carries on from page 2 while us has not started yet.
    first = pages[0].cursor["countries"]
    assert list(first) == ["jp"] and first["jp"]["sweep"]["resume"] == {"page": 2, "last": 10}
    final = pages[-1].cursor["countries"]
    assert final["jp"]["high_water"] == datetime(2026, 12, 1, 2, 42, 7, tzinfo=UTC).timestamp()
    assert final["us"]["high_water"] == datetime(2026, 11, 27, 23, 20, 33, tzinfo=UTC).timestamp()
    assert [item.metadata["country"] for page in pages for item in page.items] == ["jp"] * 5 + [
        "us"
    ]


@pytest.mark.parametrize("status", [400, 404])
def test_a_refused_page_past_the_last_ends_the_listing(status: int) -> None:
    """Without a `rel=last` link the read goes on until the store refuses a page."""
    unlinked = copy.deepcopy(JP_PAGE)
    unlinked["feed"]["link"] = unlinked["feed"]["link"][:2]  # alternate and self only

    def handler(request: httpx.Request) -> httpx.Response:
        if "/page=1/" in request.url.path:
            return httpx.Response(200, json=unlinked)
        return httpx.Response(status, text="<html>Not Found</html>")

    pages, seen = pull(handler, app_id="1459812345", countries=["jp"])
    assert len(seen) == 2 and len(pages) == 2
    assert pages[-1].cursor["countries"]["jp"]["sweep"] is None  # done, the mark moved


def test_an_empty_page_ends_the_listing() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=JP_PAGE if "/page=1/" in request.url.path else EMPTY)

    pages, seen = pull(handler, app_id="1459812345", countries=["jp"])
    assert len(seen) == 2 and pages[-1].items == []
    assert pages[-1].cursor["countries"]["jp"]["sweep"] is None


def test_a_refused_first_page_or_a_server_error_is_a_failure() -> None:
    with pytest.raises(httpx.HTTPStatusError):
        pull(lambda request: httpx.Response(404, text="no such app"), app_id="9")
    with pytest.raises(httpx.HTTPStatusError):
        pull(
            lambda request: (
                httpx.Response(200, json=JP_PAGE)
                if "/page=1/" in request.url.path
                else httpx.Response(503, text="busy")
            ),
            app_id="1459812345",
            countries=["jp"],
        )


def test_a_malformed_real_page_is_a_failure() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "/page=1/" in request.url.path:
            return httpx.Response(200, json=JP_PAGE)
        return httpx.Response(200, text="<html><body>Service unavailable</body></html>")

    with pytest.raises(MalformedResponse) as raised:
        pull(handler, app_id="1459812345", countries=["jp"])
    assert "Service unavailable" in raised.value.sample
