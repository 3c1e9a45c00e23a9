"""Bluesky (searchPosts behind an app-password session): the recorded shape, and the contract."""

import asyncio
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from collectors.base import Cursor, MalformedResponse, Page
from collectors.bluesky import BlueskyCollector, BlueskyConfig, to_item
from hub.feedback.models import Feedback
from tests.collectors.contract import CollectorContract, FakeApi

HERE = Path(__file__).parent
RECORDED = json.loads((HERE / "searchPosts.json").read_text("utf-8"))
SESSION = json.loads((HERE / "createSession.json").read_text("utf-8"))
BASE = "https://pds.fake.test"
DID = "did:plc:4f3t6qn2mz7ywj5kpl2xu6hd"


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


class FakeBluesky(FakeApi):
    """A PDS: createSession/refreshSession, and searchPosts (sort=latest, since, lang, cursor)."""

    def __init__(self) -> None:
        super().__init__()
        self.issued = 0
        self.expired: set[str] = set()  # access tokens the fake now answers ExpiredToken to
        self.session = self._issue()

    def _issue(self) -> dict[str, str]:
        self.issued += 1
        return {"access": f"access-{self.issued}", "refresh": f"refresh-{self.issued}"}

    def record(self, n: int, text: str, when: datetime) -> dict[str, Any]:
        post = copy.deepcopy(RECORDED["posts"][0])
        post["uri"] = f"at://{DID}/app.bsky.feed.post/3lc{n:010d}"
        post["cid"] = f"bafyreifake{n:010d}"
        post["record"] = {
            "$type": "app.bsky.feed.post",
            "createdAt": iso(when),
            "langs": ["en"],
            "text": text,
        }
        post["indexedAt"] = iso(when + timedelta(milliseconds=700))
        return post

    def is_listing(self, request: httpx.Request) -> bool:
        return request.url.path.endswith("/app.bsky.feed.searchPosts")

    def respond(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/xrpc/com.atproto.server.createSession":
            return self._create_session(request)
        if path == "/xrpc/com.atproto.server.refreshSession":
            return self._refresh_session(request)
        assert path == "/xrpc/app.bsky.feed.searchPosts", path
        bearer = request.headers.get("authorization", "")
        if bearer in {f"Bearer {token}" for token in self.expired}:
            return httpx.Response(400, json={"error": "ExpiredToken", "message": "Token expired"})
        if bearer != f"Bearer {self.session['access']}":
            return httpx.Response(401, json={"error": "AuthMissing", "message": "Auth required"})
        return self._search(parse_qs(request.url.query.decode()))

    def _create_session(self, request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        if sent != {"identifier": "cestia-listens.bsky.social", "password": "abcd-efgh-ijkl-mnop"}:
            error = {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}
            return httpx.Response(401, json=error)
        self.session = self._issue()
        return httpx.Response(200, json={
            **SESSION, "accessJwt": self.session["access"], "refreshJwt": self.session["refresh"],
        })  # fmt: skip

    def _refresh_session(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {self.session['refresh']}":
            return httpx.Response(400, json={"error": "InvalidToken", "message": "Bad token"})
        self.session = self._issue()
        return httpx.Response(200, json={
            "did": SESSION["did"], "didDoc": SESSION["didDoc"], "handle": SESSION["handle"],
            "accessJwt": self.session["access"], "refreshJwt": self.session["refresh"],
            "active": True,
        })  # fmt: skip

    def _search(self, query: dict[str, list[str]]) -> httpx.Response:
        assert query["sort"] == ["latest"] and query["q"]
        posts = sorted(self.records, key=sort_at, reverse=True)
        if "since" in query:  # inclusive, on sortAt
            since = parse(query["since"][0])
            posts = [post for post in posts if sort_at(post) >= since]
        if "lang" in query:
            posts = [post for post in posts if query["lang"][0] in post["record"]["langs"]]
        limit = int(query["limit"][0])
        assert 1 <= limit <= 100
        offset = int(query.get("cursor", ["0"])[0])
        body: dict[str, Any] = {"hitsTotal": len(posts), "posts": posts[offset : offset + limit]}
        if offset + limit < len(posts):
            body["cursor"] = str(offset + limit)
        return httpx.Response(200, json=body)


def sort_at(post: dict[str, Any]) -> datetime:
    return min(parse(post["record"]["createdAt"]), parse(post["indexedAt"]))


def config(**overrides: Any) -> dict[str, Any]:
    return {
        "base_url": BASE,
        "handle": "@cestia-listens.bsky.social",
        "app_password": "abcd-efgh-ijkl-mnop",
        "query": "cestia",
        "page_size": 3,
        **overrides,
    }


class TestBlueskyContract(CollectorContract):
    kind = "bluesky"

    def make_api(self) -> FakeApi:
        return FakeBluesky()

    def config(self) -> dict[str, Any]:
        return config()

    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["uri"])

    def check_item(self, stored: Feedback, record: dict[str, Any]) -> None:
        rkey = record["uri"].rsplit("/", 1)[1]
        assert stored.channel == "social"
        assert stored.author == "marta-cooks.bsky.social"
        assert stored.url == f"https://bsky.app/profile/marta-cooks.bsky.social/post/{rkey}"
        assert stored.created_at.timestamp() == parse(record["record"]["createdAt"]).timestamp()
        assert stored.meta is not None
        assert stored.meta["did"] == DID and stored.meta["like_count"] == 41
        assert stored.meta["source_language"] == "en"


def pull(api: FakeBluesky, cursor: Cursor | None = None, **overrides: Any) -> list[Page]:
    async def run() -> list[Page]:
        settings = BlueskyConfig.model_validate(config(**overrides))
        async with httpx.AsyncClient(transport=api.transport()) as client:
            return [page async for page in BlueskyCollector().pull(client, settings, cursor)]

    return asyncio.run(run())


def test_recorded_posts_map_to_items() -> None:
    complaint, reply, image_only, skewed = RECORDED["posts"]
    item = to_item(complaint)
    assert item is not None
    assert (
        item.external_id == "at://did:plc:4f3t6qn2mz7ywj5kpl2xu6hd/app.bsky.feed.post/3lc5x2kvyzs2d"
    )
    assert item.channel == "social" and item.title is None and item.score is None
    assert item.text == complaint["record"]["text"]
    assert item.text.startswith("Cestia put prices up again, third time this year 😤")
    assert item.created_at == datetime(2026, 11, 30, 18, 2, 11, 482000, tzinfo=UTC)
    assert item.author == "marta-cooks.bsky.social" and item.language == "en"
    assert item.url == "https://bsky.app/profile/marta-cooks.bsky.social/post/3lc5x2kvyzs2d"
    assert item.customer is None
    assert item.metadata == {
        "like_count": 41, "repost_count": 5, "reply_count": 3, "quote_count": 1,
        "did": "did:plc:4f3t6qn2mz7ywj5kpl2xu6hd", "display_name": "Marta 🍋",
        "cid": "bafyreigh7yvf2gqlmjzqe6t5xw3ljj7kzm4hs5z6q7pfc5ntq3xlyu6d2u",
    }  # fmt: skip

    answer = to_item(reply)
    assert answer is not None
    assert answer.text == (
        "Pedi pela Cestia ontem à noite e chegou tudo certo, até o pão de queijo 😋\n"
        "Só o app que travou duas vezes no pagamento."
    )
    assert answer.created_at == datetime(2026, 11, 30, 17, 40, tzinfo=UTC)
    assert answer.language == "pt"  # the first of the post's languages
    assert answer.url == "https://bsky.app/profile/joana.dev.br/post/3lc5vpt4ryk2w"
    parent = "at://did:plc:cestiaofficial2bskyxyz7q/app.bsky.feed.post/3lc5tq2ojds2p"
    assert answer.metadata["reply_parent"] == parent == answer.metadata["reply_root"]
    assert "display_name" not in answer.metadata  # an empty display name is no name

    assert to_item(image_only) is None  # an image with no words says nothing to analyse

    odd = to_item(skewed)
    assert odd is not None
    # createdAt is months after the post was indexed (a wrong clock): indexedAt wins.
    assert odd.created_at == datetime(2026, 11, 30, 16, 58, 3, 118000, tzinfo=UTC)
    assert odd.author == "handle.invalid" and odd.language is None
    # A handle that no longer resolves cannot make a link; the DID still does.
    assert odd.url == "https://bsky.app/profile/did:plc:b2yw6rj4oxmkq7tdhz3pvl5n/post/3lc5tzx2pfk2a"
    assert odd.metadata["labels"] == ["rude"] and "quote_count" not in odd.metadata


def test_the_requests_carry_the_session_the_query_and_the_window() -> None:
    api = FakeBluesky()
    api.records = copy.deepcopy(RECORDED["posts"][:2])
    [page] = pull(api, {"high_water": 1796050000.25, "sweep": None}, lang="pt")
    login, search = api.requests
    assert (login.method, login.url.path) == ("POST", "/xrpc/com.atproto.server.createSession")
    assert json.loads(login.content) == {
        "identifier": "cestia-listens.bsky.social", "password": "abcd-efgh-ijkl-mnop",
    }  # fmt: skip
    assert "authorization" not in login.headers
    assert (search.method, search.url.path) == ("GET", "/xrpc/app.bsky.feed.searchPosts")
    assert search.headers["authorization"] == "Bearer access-2"
    assert parse_qs(search.url.query.decode()) == {
        "q": ["cestia"], "sort": ["latest"], "since": ["2026-11-30T14:46:40.250Z"],
        "limit": ["3"], "lang": ["pt"],
    }  # fmt: skip
    assert [item.language for item in page.items] == ["pt"]
    assert page.cursor == {"high_water": parse("2026-11-30T17:40:00Z").timestamp(), "sweep": None}


def test_a_read_resumes_from_the_stored_cursor_token() -> None:
    api = FakeBluesky()
    api.add(5, start=1, newest=datetime(2026, 11, 30, 18, 0, tzinfo=UTC))
    mark = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()
    top = datetime(2026, 11, 30, 18, 0, tzinfo=UTC).timestamp()  # seen before the crash
    [page] = pull(api, {"high_water": mark, "sweep": {"newest": top, "resume": {"cursor": "3"}}})
    assert parse_qs(api.requests[1].url.query.decode())["cursor"] == ["3"]
    assert [item.external_id for item in page.items] == [p["uri"] for p in api.records[3:]]
    assert page.cursor == {"high_water": top, "sweep": None}  # the read's top is kept


def test_an_expired_token_is_refreshed_once_then_the_read_goes_on() -> None:
    api = FakeBluesky()
    api.add(5, start=1, newest=datetime.now(UTC) - timedelta(hours=1))
    original = api.respond

    def expire_after_first_page(request: httpx.Request) -> httpx.Response:
        if api.is_listing(request) and "cursor" in request.url.params:
            api.expired.add("access-2")
        return original(request)

    api.respond = expire_after_first_page  # type: ignore[method-assign]
    pages = pull(api)
    paths = [request.url.path.rsplit("/", 1)[1] for request in api.requests]
    assert paths == [
        "com.atproto.server.createSession", "app.bsky.feed.searchPosts",
        "app.bsky.feed.searchPosts", "com.atproto.server.refreshSession",
        "app.bsky.feed.searchPosts",
    ]  # fmt: skip
    assert api.requests[3].headers["authorization"] == "Bearer refresh-2"
    assert api.requests[4].headers["authorization"] == "Bearer access-3"
    assert sum(len(page.items) for page in pages) == 5


def test_a_token_that_expires_again_fails_the_run() -> None:
    api = FakeBluesky()
    api.add(2, start=1, newest=datetime.now(UTC) - timedelta(hours=1))
    api.expired = {"access-2", "access-3"}
    with pytest.raises(httpx.HTTPStatusError) as failure:
        pull(api)
    assert failure.value.response.status_code == 400
    assert len(api.requests) == 4  # login, search, refresh, search: one refresh only


def test_a_bad_app_password_fails_at_login() -> None:
    api = FakeBluesky()
    with pytest.raises(httpx.HTTPStatusError) as failure:
        pull(api, app_password="wrong")
    assert failure.value.response.status_code == 401
    assert "Invalid identifier or password" in failure.value.response.text
    assert len(api.requests) == 1


def test_a_session_without_tokens_is_malformed_and_its_sample_hides_them() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"did": SESSION["did"], "accessJwt": "secret-access"})

    async def run() -> None:
        settings = BlueskyConfig.model_validate(config())
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            async for _ in BlueskyCollector().pull(client, settings, None):
                pass

    with pytest.raises(MalformedResponse) as failure:
        asyncio.run(run())
    assert "secret-access" not in failure.value.sample
    assert SESSION["did"] in failure.value.sample


def test_recorded_posts_with_optional_fields_missing_keep_every_good_one() -> None:
    """A post without any readable time is dated at the read (and leaves the mark), one
    without an at:// uri is rejected alone, and missing author, counts or langs cost nothing."""
    api = FakeBluesky()
    posts = copy.deepcopy(RECORDED["posts"])
    undated, bare, no_uri = posts[0], posts[1], posts[2]
    undated["record"]["createdAt"] = "yesterday"
    del undated["indexedAt"]
    for key in ("author", "likeCount", "replyCount", "repostCount", "labels"):
        bare.pop(key, None)
    bare["record"].pop("langs", None)
    del no_uri["uri"]

    def respond(request: httpx.Request) -> httpx.Response:
        if api.is_listing(request):
            return httpx.Response(200, json={"posts": posts})
        return FakeBluesky.respond(api, request)

    api.respond = respond  # type: ignore[method-assign]
    before = datetime.now(UTC)
    [page] = pull(api, {"high_water": 1796000000.0, "sweep": None})
    by_uri = {item.external_id: item for item in page.items}
    assert len(page.rejected) == 1 and "at:// `uri`" in page.rejected[0]
    assert len(by_uri) == len([p for p in posts[:2] + posts[3:] if to_item(p) is not None])
    assert by_uri[undated["uri"]].created_at >= before
    assert by_uri[bare["uri"]].author is None and by_uri[bare["uri"]].language is None
    assert page.cursor["high_water"] < before.timestamp()


def test_loose_shapes_are_accepted() -> None:
    post = copy.deepcopy(RECORDED["posts"][0])
    post.update({"likeCount": "7", "repostCount": None, "labels": None})
    del post["author"]
    post["record"].update({"langs": "de", "createdAt": "2026-11-30T18:02:11"})
    item = to_item(post)
    assert item is not None
    assert item.metadata["like_count"] == 7 and "repost_count" not in item.metadata
    assert item.metadata["did"] == DID  # from the uri when the author view is missing
    assert item.author is None and item.language == "de"
    assert item.url == f"https://bsky.app/profile/{DID}/post/3lc5x2kvyzs2d"
    assert item.created_at == datetime(2026, 11, 30, 18, 2, 11, tzinfo=UTC)  # no zone: UTC


def test_an_empty_page_with_a_cursor_reads_on_and_no_cursor_ends() -> None:
    api = FakeBluesky()
    bodies = [{"cursor": "x1", "posts": []}, {"posts": RECORDED["posts"][:1]}]

    def respond(request: httpx.Request) -> httpx.Response:
        if api.is_listing(request):
            return httpx.Response(200, json=bodies.pop(0))
        return FakeBluesky.respond(api, request)

    api.respond = respond  # type: ignore[method-assign]
    first, last = pull(api, {"high_water": 1796000000.0, "sweep": None})
    assert first.items == [] and first.cursor["sweep"]["resume"] == {"cursor": "x1"}
    assert len(last.items) == 1 and last.cursor["sweep"] is None
