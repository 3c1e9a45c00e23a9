"""Reddit (OAuth search and subreddit listings): the recorded shape, tokens, the contract."""

import asyncio
import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import ValidationError

from collectors.base import MalformedResponse, Page
from collectors.reddit import RedditCollector, RedditConfig, to_item
from hub.feedback.models import Feedback
from tests.collectors.contract import NOW, CollectorContract, FakeApi
from tests.conftest import Database

HERE = Path(__file__).parent
RECORDED = json.loads((HERE / "search.json").read_text("utf-8"))
HEADERS: dict[str, str] = json.loads((HERE / "search.headers.json").read_text("utf-8"))
EMPTY_LISTING = {
    "kind": "Listing",
    "data": {"after": None, "dist": 0, "children": [], "before": None},
}
REDDIT = "https://www.reddit.com"
TOKEN_PATH = "/api/v1/access_token"
CLIENT_ID, CLIENT_SECRET = "p-jcoLKBynTLew", "gko_LXELoV07ZBNUXrvWZfzE3aI"
USER_AGENT = "feedback-hub:acme-listener:v1 (by /u/acme)"
CONFIG = {
    "base_url": "https://oauth.reddit.fake.test",
    "token_url": f"https://www.reddit.fake.test{TOKEN_PATH}",
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "user_agent": USER_AGENT,
    "query": "cestia",
    "limit": 3,
}


def base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        n, rest = divmod(n, 36)
        text = digits[rest] + text
        if n == 0:
            return text


class FakeReddit(FakeApi):
    """The token endpoint, and listings newest first paged by ``after`` under a bearer token."""

    def __init__(self) -> None:
        super().__init__()
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.headers = dict(HEADERS)

    def record(self, n: int, text: str, when: datetime) -> dict[str, Any]:
        post = copy.deepcopy(RECORDED["data"]["children"][0])
        id36, stamp = base36(n), float(int(when.timestamp()))
        permalink = f"/r/brasil/comments/{id36}/cestia_feedback_{n}/"
        post["data"].update(
            id=id36, name=f"t3_{id36}", title=f"Cestia, post {n}", selftext=text,
            selftext_html=f'<!-- SC_OFF --><div class="md"><p>{text}</p>\n</div><!-- SC_ON -->',
            created_utc=stamp, created=stamp, permalink=permalink, url=REDDIT + permalink,
        )  # fmt: skip
        return post

    def is_listing(self, request: httpx.Request) -> bool:
        return request.url.path != TOKEN_PATH

    def respond(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["user-agent"] == USER_AGENT
        if not self.is_listing(request):
            return self.grant(request)
        if request.headers.get("authorization") not in {f"bearer {t}" for t in self.valid}:
            return httpx.Response(401, json={"message": "Unauthorized", "error": 401})
        query = parse_qs(request.url.query.decode())
        posts = sorted(self.records, key=lambda post: post["data"]["created_utc"], reverse=True)
        if "after" in query:
            names = [post["data"]["name"] for post in posts]
            posts = posts[names.index(query["after"][0]) + 1 :]
        limit = min(int(query["limit"][0]), 100)
        shown, more = posts[:limit], len(posts) > limit
        data = {
            **RECORDED["data"], "children": shown, "dist": len(shown),
            "after": shown[-1]["data"]["name"] if more else None,
        }  # fmt: skip
        return httpx.Response(200, json={"kind": "Listing", "data": data}, headers=self.headers)

    def grant(self, request: httpx.Request) -> httpx.Response:
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        assert request.method == "POST"
        assert request.headers["authorization"] == f"Basic {basic}"
        assert parse_qs(request.content.decode()) == {"grant_type": ["client_credentials"]}
        token = f"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.{len(self.issued)}.sig"
        self.issued.append(token)
        self.valid.add(token)
        return httpx.Response(
            200, json={"access_token": token, "token_type": "bearer", "expires_in": 86400,
                       "scope": "*"},
        )  # fmt: skip

    def malformed(self) -> httpx.Response:
        return httpx.Response(200, json={"kind": "Listing", "data": {"children": "none"}})


class TestRedditContract(CollectorContract):
    kind = "reddit"

    def make_api(self) -> FakeApi:
        return FakeReddit()

    def config(self) -> dict[str, Any]:
        return dict(CONFIG)

    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["data"]["name"])

    def check_item(self, stored: Feedback, record: dict[str, Any]) -> None:
        post = record["data"]
        assert stored.channel == "social"
        assert stored.title == post["title"] and stored.author == post["author"]
        assert stored.url == REDDIT + post["permalink"]
        assert stored.created_at.timestamp() == post["created_utc"]
        assert stored.meta is not None and stored.meta["subreddit"] == "brasil"
        assert "link" not in stored.meta  # a self post's url is its permalink

    # -- Reddit's own: one token per run, renewed once, rate-limit headers come through ----

    def test_one_token_serves_every_page(self, source: Database, api: FakeApi) -> None:
        api.add(api.page_size * 3 + 1, start=2000, newest=NOW - timedelta(hours=1))
        report = self.pull(source, api)
        assert report.status == "ok" and report.pages >= 4
        assert isinstance(api, FakeReddit) and len(api.issued) == 1
        assert len(api.requests) == len(api.listings()) + 1

    def test_an_expired_token_is_renewed_once(self, source: Database, api: FakeApi) -> None:
        assert isinstance(api, FakeReddit)
        api.add(api.page_size * 2 + 1, start=2100, newest=NOW - timedelta(hours=1))
        original = api.respond

        def expire_after_first_page(request: httpx.Request) -> httpx.Response:
            if len(api.listings()) == 2:
                api.valid.clear()  # the token expired between two pages
            return original(request)

        api.respond = expire_after_first_page  # type: ignore[method-assign]
        report = self.pull(source, api)
        assert (report.status, report.created) == ("ok", len(api.records))
        assert len(api.issued) == 2

    def test_a_401_after_renewal_fails_the_run(self, source: Database, api: FakeApi) -> None:
        assert isinstance(api, FakeReddit)
        api.add(2, start=2200, newest=NOW - timedelta(hours=1))
        api.respond = lambda request: (  # type: ignore[method-assign]
            FakeReddit.respond(api, request)
            if not api.is_listing(request)
            else httpx.Response(401, json={"message": "Unauthorized", "error": 401})
        )
        report = self.pull(source, api)
        assert report.status == "failed" and "401" in (report.error or "")
        assert len(api.issued) == 2 and len(api.listings()) == 2

    def test_rate_limit_headers_pause_the_next_request(
        self, source: Database, api: FakeApi
    ) -> None:
        assert isinstance(api, FakeReddit)
        api.add(api.page_size + 1, start=2300, newest=NOW - timedelta(hours=1))
        api.headers.update({"x-ratelimit-used": "1000", "x-ratelimit-remaining": "0.0",
                            "x-ratelimit-reset": "5"})  # fmt: skip
        sleeps: list[float] = []
        report = self.pull(source, api, sleeps)
        assert (report.status, report.created) == ("ok", len(api.records))
        assert any(4.5 < seconds <= 5.0 for seconds in sleeps), sleeps

    def test_recorded_headers_do_not_pause(self, source: Database, api: FakeApi) -> None:
        api.add(api.page_size + 1, start=2400, newest=NOW - timedelta(hours=1))
        sleeps: list[float] = []
        assert self.pull(source, api, sleeps).status == "ok"
        assert sleeps == []  # 996 of the window's requests left: no reason to wait


def test_recorded_posts_map_to_items() -> None:
    self_post, link_post, removed, crosspost = (
        child["data"] for child in RECORDED["data"]["children"]
    )
    item = to_item(self_post)
    assert item is not None
    assert item.external_id == "t3_1pb7x4r"
    assert item.title == "Cestia: entrega atrasada e produto trocado de novo"
    assert item.text == (
        "Pedi pelo **app da Cestia** às 18h e só chegou às 21h30.\n\n"
        '* O leite de aveia veio trocado por "bebida láctea"\n'
        "* O suporte respondeu só no dia seguinte\n\n"
        "> Lamentamos o transtorno\n\n"
        "Alguém mais passou por isso? Vale a pena continuar no plano Cestia+? 😤"
    )
    assert item.author == "joana_sp_92" and item.channel == "social"
    assert item.created_at == datetime(2026, 11, 30, 19, 41, 27, tzinfo=UTC)
    assert item.url == (
        "https://www.reddit.com/r/brasil/comments/1pb7x4r/"
        "cestia_entrega_atrasada_e_produto_trocado_de_novo/"
    )
    assert item.language is None and item.score is None
    assert item.metadata == {
        "subreddit": "brasil", "score": 37, "num_comments": 18, "flair": "Desabafo",
    }  # fmt: skip

    link = to_item(link_post)
    assert link is not None
    assert link.title == "Cestia raises delivery fees for the third time this year"
    assert link.text is None and link.author == "Sariel007"
    assert link.url == (
        "https://www.reddit.com/r/technology/comments/1pb2m9k/"
        "cestia_raises_delivery_fees_for_the_third_time/"
    )
    assert link.metadata == {
        "subreddit": "technology", "score": 1843, "num_comments": 412, "flair": "Business",
        "link": "https://www.theverge.com/2026/11/30/cestia-delivery-fees",
    }  # fmt: skip

    gone = to_item(removed)
    assert gone is not None  # its title is still there; "[removed]" is not its text
    assert gone.text is None and gone.author is None
    assert gone.title == "Cestia support is a joke, here's the agent's full name and phone"
    assert gone.metadata["removed_by_category"] == "moderator"

    shared = to_item(crosspost)
    assert shared is not None and shared.text is None and shared.author == "KäseKönigin"
    assert shared.metadata["link"] == (
        "https://www.reddit.com/r/CestiaApp/comments/1pasv7e/"
        "oat_milk_swapped_for_milkflavoured_drink_again/"
    )  # a crosspost's url is a path to the original


def test_a_post_with_nothing_left_is_skipped() -> None:
    deleted = {**RECORDED["data"]["children"][0]["data"], "title": "", "selftext": "[deleted]"}
    assert to_item(deleted) is None
    assert to_item({**deleted, "selftext": " "}) is None


def test_loose_values_are_accepted() -> None:
    post = {
        "id": "1pb7x4r", "title": "Cestia", "selftext": "ok", "created_utc": "1796067687",
        "permalink": None, "url": None, "over_18": True,
    }  # fmt: skip
    item = to_item(post)
    assert item is not None and item.external_id == "t3_1pb7x4r" and item.url is None
    assert item.created_at == datetime(2026, 11, 30, 19, 41, 27, tzinfo=UTC)
    assert item.metadata == {"nsfw": True}


def run_pull(
    config: dict[str, Any], handler: Any, cursor: dict[str, Any] | None = None
) -> list[Page]:
    async def pull() -> list[Page]:
        settings = RedditConfig.model_validate(config)
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return [page async for page in RedditCollector().pull(client, settings, cursor)]

    return asyncio.run(pull())


def recorded_handler(seen: list[httpx.Request]) -> Any:
    """The recorded listing first, then an empty one (a read that follows `after` ends)."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == TOKEN_PATH:
            return httpx.Response(200, json={"access_token": "tok-1", "token_type": "bearer",
                                             "expires_in": 86400, "scope": "*"})  # fmt: skip
        listings = sum(1 for earlier in seen if earlier.url.path != TOKEN_PATH)
        body = RECORDED if listings == 1 else EMPTY_LISTING
        return httpx.Response(200, json=body, headers=HEADERS)

    return handler


def test_the_requests_carry_credentials_query_and_user_agent() -> None:
    seen: list[httpx.Request] = []
    cursor = {"high_water": 1796050000.0, "sweep": None}
    [page] = run_pull({**CONFIG, "query": "cestia app"}, recorded_handler(seen), cursor)
    grant, search = seen
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert (grant.method, str(grant.url)) == ("POST", CONFIG["token_url"])
    assert grant.headers["authorization"] == f"Basic {basic}"
    assert grant.content == b"grant_type=client_credentials"
    assert search.method == "GET" and search.url.host == "oauth.reddit.fake.test"
    assert search.url.path == "/search"
    assert parse_qs(search.url.query.decode()) == {
        "q": ["cestia app"], "sort": ["new"], "type": ["link"], "limit": ["3"], "raw_json": ["1"],
    }  # fmt: skip
    assert search.headers["authorization"] == "bearer tok-1"
    assert grant.headers["user-agent"] == search.headers["user-agent"] == USER_AGENT
    # The page went below the mark (the crosspost is older): the read is done, mark moved up.
    assert [item.external_id for item in page.items] == ["t3_1pb7x4r", "t3_1pb2m9k", "t3_1paz0qd"]
    assert page.cursor == {"high_water": 1796067687.0, "sweep": None}


def test_a_subreddit_search_and_a_subreddit_listing() -> None:
    seen: list[httpx.Request] = []
    cursor = {"high_water": 1796000000.0, "sweep": {"newest": 1796067687.0,
                                                    "resume": {"after": "t3_1p8aaaa"}}}  # fmt: skip
    run_pull({**CONFIG, "subreddit": "r/brasil"}, recorded_handler(seen), cursor)
    search = seen[1]
    assert search.url.path == "/r/brasil/search"
    query = parse_qs(search.url.query.decode())
    assert query["restrict_sr"] == ["1"] and query["q"] == ["cestia"]
    assert query["after"] == ["t3_1p8aaaa"]  # a read cut short resumes where it stopped
    seen.clear()
    pages = run_pull({**CONFIG, "query": None, "subreddit": "brasil+portugal"},
                     recorded_handler(seen), cursor)  # fmt: skip
    assert seen[1].url.path == "/r/brasil+portugal/new"
    assert parse_qs(seen[1].url.query.decode()) == {
        "limit": ["3"], "raw_json": ["1"], "after": ["t3_1p8aaaa"],
    }  # fmt: skip
    # The recorded page has an `after`, but all four posts are above the mark: read on.
    assert pages[0].cursor["sweep"]["resume"] == {"after": "t3_1p9t1mn"}


def test_a_ready_access_token_is_sent_as_is() -> None:
    seen: list[httpx.Request] = []
    config = {**CONFIG, "client_id": None, "client_secret": None, "access_token": "ready-1"}
    run_pull(config, recorded_handler(seen), {"high_water": 1796050000.0, "sweep": None})
    [search] = seen  # no token request
    assert search.headers["authorization"] == "bearer ready-1"

    def refuse(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, json={"message": "Unauthorized", "error": 401})

    seen.clear()
    with pytest.raises(httpx.HTTPStatusError):
        run_pull(config, refuse)
    assert len(seen) == 1  # nothing to renew it with


def test_a_refused_grant_is_a_malformed_response() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"error": "unsupported_grant_type"})

    with pytest.raises(MalformedResponse, match="unsupported_grant_type"):
        run_pull(CONFIG, handler)


def test_config_needs_something_to_read_and_credentials() -> None:
    with pytest.raises(ValidationError, match="query"):
        RedditConfig.model_validate({**CONFIG, "query": None})
    with pytest.raises(ValidationError, match="client_id"):
        RedditConfig.model_validate({**CONFIG, "client_secret": None})
    with pytest.raises(ValidationError, match="subreddit"):
        RedditConfig.model_validate({**CONFIG, "subreddit": "no spaces"})
    with pytest.raises(ValidationError, match="user_agent"):
        RedditConfig.model_validate({k: v for k, v in CONFIG.items() if k != "user_agent"})
    config = RedditConfig.model_validate({**CONFIG, "subreddit": "/r/brasil/"})
    assert config.subreddit == "brasil"
    assert str(RedditConfig.model_fields["base_url"].default) == "https://oauth.reddit.com/"


def test_a_listing_that_repeats_its_after_ends_the_read() -> None:
    """A listing that keeps answering with the `after` it was asked for would be read for ever."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == TOKEN_PATH:
            return httpx.Response(200, json={"access_token": "tok-1", "token_type": "bearer",
                                             "expires_in": 86400, "scope": "*"})  # fmt: skip
        stuck = {**RECORDED, "data": {**RECORDED["data"], "after": "t3_1p9t1mn"}}
        return httpx.Response(200, json=stuck, headers=HEADERS)

    cursor = {"high_water": 1796000000.0, "sweep": None}
    pages = run_pull(CONFIG, handler, cursor)
    listings = [request for request in seen if request.url.path != TOKEN_PATH]
    assert len(listings) == 2  # the first page, then the same `after` once: the read stops
    assert pages[-1].cursor["sweep"] is None and pages[-1].cursor["high_water"] == 1796067687.0


def test_recorded_posts_with_optional_fields_missing_keep_every_good_one() -> None:
    """A post without `created_utc` is dated by `created` (else the read's time), a child
    without data or a post without `name` and `id` is rejected alone: the rest are kept."""
    listing = copy.deepcopy(RECORDED)
    first, second, third, fourth = listing["data"]["children"]
    del first["data"]["created_utc"], first["data"]["author"], first["data"]["permalink"]
    del second["data"]["created_utc"], second["data"]["created"]
    del third["data"]["name"], third["data"]["id"]
    listing["data"]["children"].append({"kind": "t3"})
    seen: list[httpx.Request] = []
    handler = recorded_handler(seen)

    def with_gaps(request: httpx.Request) -> httpx.Response:
        response = handler(request)
        listings = sum(1 for earlier in seen if earlier.url.path != TOKEN_PATH)
        if request.url.path == TOKEN_PATH or listings != 1:
            return response
        return httpx.Response(200, json=listing, headers=HEADERS)

    before = datetime.now(UTC)
    pages = run_pull(CONFIG, with_gaps, {"high_water": 1796000000.0, "sweep": None})
    items = {item.external_id: item for page in pages for item in page.items}
    assert set(items) == {first["data"]["name"], second["data"]["name"], fourth["data"]["name"]}
    assert sum(len(page.rejected) for page in pages) == 2
    assert items[first["data"]["name"]].created_at == datetime.fromtimestamp(1796067687, UTC)
    assert items[first["data"]["name"]].author is None
    assert items[second["data"]["name"]].created_at >= before
