"""Intercom ratings (conversation search): the recorded shape, and the collector contract."""

import asyncio
import base64
import copy
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from collectors.base import Cursor, MalformedResponse, Page
from collectors.intercom import IntercomCollector, IntercomConfig, to_item
from hub.feedback.models import Feedback
from hub.sources.transport import rate_limit_reset_at
from tests.collectors.contract import CollectorContract, FakeApi

HERE = Path(__file__).parent
RECORDED = json.loads((HERE / "conversations_search.json").read_text("utf-8"))
HEADERS: dict[str, str] = json.loads(
    (HERE / "conversations_search.headers.json").read_text("utf-8")
)
BASE = "https://api.intercom.fake.test"
TOKEN = "dG9rOjVhMWI2YzNkXzk4NzZfNDMyMV9hYmNkXzEyMzQ1Njc4OTBhYjoxOjA="


def field(record: dict[str, Any], path: str) -> Any:
    """A dotted search field of a conversation (``conversation_rating.score`` is the rating)."""
    value: Any = record
    for part in path.replace("conversation_rating.score", "conversation_rating.rating").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def matches(record: dict[str, Any], query: dict[str, Any]) -> bool:
    """Intercom's search query: nested AND/OR, or one field compared with an operator."""
    operator, value = query["operator"], query["value"]
    if operator in ("AND", "OR"):
        results = [matches(record, part) for part in value]
        return all(results) if operator == "AND" else any(results)
    actual = field(record, query["field"])
    if operator in ("IN", "NIN"):
        return (actual in value) == (operator == "IN")
    if operator in ("=", "!="):
        return (actual == value) == (operator == "=")
    if actual is None:
        return False
    # The docs call ">" "greater (or equal)"; the fake takes the strict reading, the one that
    # would lose boundary items if the collector did not step a second back.
    return float(actual) > float(value) if operator == ">" else float(actual) < float(value)


def token(key: tuple[float, int]) -> str:
    return base64.b64encode(json.dumps([int(key[0] * 1000), key[1], 2]).encode()).decode()


def untoken(value: str) -> tuple[float, int]:
    millis, conversation_id, _ = json.loads(base64.b64decode(value))
    return millis / 1000, int(conversation_id)


class FakeIntercom(FakeApi):
    """``POST /conversations/search``: the JSON query, sort, per_page and starting_after."""

    def record(self, n: int, text: str, when: datetime) -> dict[str, Any]:
        conversation = copy.deepcopy(RECORDED["conversations"][0])
        stamp = int(when.timestamp())
        contact = {"type": "contact", "id": f"6571c2f0a9b8e31d{n:08x}", "external_id": f"cus_{n}"}
        conversation["source"]["author"].update(id=contact["id"], email=f"customer{n}@example.com")
        return {
            **conversation,
            "id": str(n),
            "created_at": stamp - 3600,
            "updated_at": stamp,
            "contacts": {"type": "contact.list", "contacts": [contact]},
            "conversation_rating": {
                "rating": 1 + n % 5,
                "remark": text,
                "created_at": stamp - 30,
                "contact": contact,
                "teammate": {"type": "admin", "id": "7340211"},
            },
        }

    def respond(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"type": "error.list", "errors": [
                {"code": "unauthorized", "message": "Access Token Invalid"}]})  # fmt: skip
        assert request.headers["intercom-version"] == "2.11"
        assert (request.method, request.url.path) == ("POST", "/conversations/search")
        search = json.loads(request.content)
        sort = search.get("sort", {"field": "updated_at", "order": "descending"})
        pagination = search.get("pagination", {})
        per_page = int(pagination.get("per_page", 20))
        assert 1 <= per_page <= 150

        def key(record: dict[str, Any]) -> tuple[float, int]:
            return float(field(record, sort["field"])), int(record["id"])

        ascending = sort["order"] == "ascending"
        found = sorted(
            (record for record in self.records if matches(record, search["query"])),
            key=key, reverse=not ascending,
        )  # fmt: skip
        rest = found
        if pagination.get("starting_after"):
            after = untoken(pagination["starting_after"])
            rest = [r for r in found if (key(r) > after if ascending else key(r) < after)]
        shown = rest[:per_page]
        body = self._body(found, rest, shown, per_page, key)
        return httpx.Response(200, headers=HEADERS, json=body)

    @staticmethod
    def _body(
        found: list[dict[str, Any]],
        rest: list[dict[str, Any]],
        shown: list[dict[str, Any]],
        per_page: int,
        key: Any,
    ) -> dict[str, Any]:
        page = (len(found) - len(rest)) // per_page + 1
        total_pages = max(1, math.ceil(len(found) / per_page))
        pages: dict[str, Any] = {
            "type": "pages", "page": page, "per_page": per_page, "total_pages": total_pages,
        }  # fmt: skip
        if len(rest) > len(shown):
            pages["next"] = {"page": page + 1, "starting_after": token(key(shown[-1]))}
        return {"type": "conversation.list", "pages": pages, "total_count": len(found),
                "conversations": shown}  # fmt: skip


CONFIG = {"base_url": BASE, "access_token": TOKEN, "page_size": 3}


class TestIntercomContract(CollectorContract):
    kind = "intercom"

    def make_api(self) -> FakeApi:
        return FakeIntercom()

    def config(self) -> dict[str, Any]:
        return dict(CONFIG)

    def record_id(self, record: dict[str, Any]) -> str:
        return f"{record['id']}:rating"

    def check_item(self, stored: Feedback, record: dict[str, Any]) -> None:
        rating = record["conversation_rating"]
        assert (stored.channel, stored.score_type) == ("rating", "csat")
        assert stored.score == rating["rating"]
        assert int(stored.created_at.timestamp()) == rating["created_at"]
        assert stored.customer_id is not None
        assert stored.meta is not None
        assert stored.meta["conversation_id"] == record["id"]
        assert stored.meta["teammate_id"] == "7340211"


def test_recorded_conversations_map_to_items() -> None:
    happy, unhappy, unrated, japanese, silent = RECORDED["conversations"]
    item = to_item(happy)
    assert item is not None
    assert (item.external_id, item.channel, item.score_type, item.score) == (
        "215470839291063:rating", "rating", "csat", 5,
    )  # fmt: skip
    assert item.text == "Replacement sent the same day, lovely support."
    assert item.created_at == datetime.fromtimestamp(1795610980, UTC)
    assert item.customer == {
        "ref": "intercom:6571c2f0a9b8e31d4c2f7a10",
        "email": "marta.kowalska@example.com",
        "name": "Marta Kowalska",
    }
    assert item.metadata == {
        "conversation_id": "215470839291063",
        "teammate_id": "7340211",
        "tags": ["damaged-item", "replacement"],
        "source_type": "conversation",
        "source_url": "https://www.cestia.example/orders",
    }
    low = to_item(unhappy)
    assert low is not None and low.score == 2
    assert low.customer == {"ref": "intercom:6572a1d39f0c4e2b8a7d1e55"}  # "not-an-email" dropped
    assert (low.metadata["teammate_id"], low.metadata["tags"]) == ("8120433", ["refund"])
    assert to_item(unrated) is None  # conversation_rating is null
    kind = to_item(japanese)
    assert kind is not None and kind.text == japanese["conversation_rating"]["remark"]
    assert kind.text is not None and kind.text.startswith("丁寧に対応していただきました。")
    assert kind.customer is not None and kind.customer["name"] == "佐藤 花子"
    score_only = to_item(silent)  # a rating without a remark is still feedback
    assert score_only is not None and (score_only.text, score_only.score) == (None, 3)
    assert "tags" not in score_only.metadata


def test_an_admin_started_conversation_does_not_lend_the_admin_email() -> None:
    conversation = copy.deepcopy(RECORDED["conversations"][2])
    conversation["conversation_rating"] = {
        "rating": "4",
        "remark": "ok",
        "created_at": "1795655900",
        "contact": {"type": "contact", "id": "6573b8e4c1d2f3a4b5c6d7e8", "external_id": None},
        "teammate": None,
    }  # fmt: skip  (numbers as strings, and no teammate)
    item = to_item(conversation)
    assert item is not None and item.score == 4
    assert item.created_at == datetime.fromtimestamp(1795655900, UTC)
    assert item.customer == {"ref": "intercom:6573b8e4c1d2f3a4b5c6d7e8"}
    assert "teammate_id" not in item.metadata


def test_a_rating_out_of_range_keeps_only_the_remark() -> None:
    conversation = copy.deepcopy(RECORDED["conversations"][0])
    conversation["conversation_rating"].update(rating=0, contact=None)
    item = to_item(conversation)
    assert item is not None and (item.score_type, item.score) == (None, None)
    assert item.customer is not None
    assert item.customer["ref"] == "intercom:6571c2f0a9b8e31d4c2f7a10"  # from `contacts`
    conversation["conversation_rating"]["remark"] = "  "
    assert to_item(conversation) is None


async def _pull(
    config: IntercomConfig, cursor: Cursor | None, responses: list[httpx.Response]
) -> tuple[list[Page], list[httpx.Request]]:
    """Pages pulled while ``responses`` are served in turn, up to the first HTTP error."""
    seen: list[httpx.Request] = []
    pages: list[Page] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses[len(seen) - 1]

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        try:
            async for page in IntercomCollector().pull(client, config, cursor):
                pages.append(page)
        except httpx.HTTPStatusError:
            pass
    return pages, seen


def test_the_request_is_a_search_on_updated_at_with_the_rating_filter() -> None:
    config = IntercomConfig.model_validate({"access_token": TOKEN})
    cursor = {"updated_after": 1795600000, "newest": 1795600000, "starting_after": "WzE3OTVd"}
    responses = [httpx.Response(200, json=RECORDED), httpx.Response(400, json={})]
    [page], [request, _] = asyncio.run(_pull(config, cursor, responses))
    assert (request.method, str(request.url)) == (
        "POST",
        "https://api.intercom.io/conversations/search",
    )
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["intercom-version"] == "2.11"
    assert json.loads(request.content) == {
        "query": {"operator": "AND", "value": [
            {"field": "updated_at", "operator": ">", "value": 1795600000},
            {"field": "conversation_rating.score", "operator": "IN", "value": [1, 2, 3, 4, 5]},
        ]},
        "sort": {"field": "updated_at", "order": "ascending"},
        "pagination": {"per_page": 150, "starting_after": "WzE3OTVd"},
    }  # fmt: skip
    assert [item.external_id for item in page.items] == [
        "215470839291063:rating", "215470839355512:rating",
        "215470839466120:rating", "215470839501342:rating",
    ]  # fmt: skip
    assert page.cursor == {
        "updated_after": 1795600000,
        "newest": 1795689012.0,
        "starting_after": RECORDED["pages"]["next"]["starting_after"],
    }


def test_the_last_page_moves_the_mark_to_the_newest_update() -> None:
    config = IntercomConfig.model_validate(
        {"base_url": "https://api.eu.intercom.io", "access_token": TOKEN, "rated_only": False,
         "api_version": "2.12", "page_size": 5}
    )  # fmt: skip
    last = {**RECORDED, "pages": {"type": "pages", "page": 3, "per_page": 5, "total_pages": 3}}
    [page], [request] = asyncio.run(
        _pull(config, {"updated_after": 1795500000}, [httpx.Response(200, json=last)])
    )
    assert request.url.host == "api.eu.intercom.io"
    assert request.headers["intercom-version"] == "2.12"
    assert json.loads(request.content)["query"] == {
        "field": "updated_at", "operator": ">", "value": 1795500000,
    }  # fmt: skip
    assert json.loads(request.content)["pagination"] == {"per_page": 5}
    assert page.cursor == {"updated_after": 1795689012 - 1}


def test_an_empty_search_keeps_the_mark() -> None:
    empty = {"type": "conversation.list", "conversations": [], "total_count": 0,
             "pages": {"type": "pages", "page": 1, "per_page": 150, "total_pages": 0}}  # fmt: skip
    config = IntercomConfig.model_validate({"access_token": TOKEN})
    [page], _ = asyncio.run(
        _pull(config, {"updated_after": 1795500000}, [httpx.Response(200, json=empty)])
    )
    assert page.items == [] and page.cursor == {"updated_after": 1795500000}


@pytest.mark.parametrize(
    "body",
    [
        {"type": "error.list", "errors": [{"code": "server_error"}]},
        {**RECORDED, "pages": {"type": "pages", "next": {"page": 2}}},
    ],
)
def test_bodies_out_of_shape_are_malformed(body: dict[str, Any]) -> None:
    config = IntercomConfig.model_validate({"access_token": TOKEN})
    with pytest.raises(MalformedResponse):
        asyncio.run(_pull(config, None, [httpx.Response(200, json=body)]))


def test_the_config_refuses_what_intercom_would() -> None:
    for data in (
        {},
        {"access_token": ""},
        {"access_token": TOKEN, "page_size": 151},
        {"access_token": TOKEN, "api_version": "latest"},
        {"access_token": TOKEN, "region": "eu"},
    ):
        with pytest.raises(ValidationError):
            IntercomConfig.model_validate(data)


def test_the_recorded_rate_limit_headers_pace_until_the_reset() -> None:
    assert rate_limit_reset_at(httpx.Headers(HEADERS), now=1795690000.0) is None
    spent = httpx.Headers({**HEADERS, "x-ratelimit-remaining": "0"})
    assert rate_limit_reset_at(spent, now=1795690000.0) == 1795690970.0


def test_recorded_conversations_with_optional_fields_missing_keep_every_good_one() -> None:
    """Without the rating's `created_at` and the conversation's `updated_at` a rating is dated
    at the read (and leaves the mark); without `id` it is rejected alone; missing contacts,
    source or tags cost nothing: the rest of the page is stored."""
    first, second, unrated, fourth, fifth = copy.deepcopy(RECORDED["conversations"])
    del first["conversation_rating"]["created_at"], first["updated_at"]
    second.pop("contacts", None), second.pop("source", None), second.pop("tags", None)
    del fourth["id"]
    body = {**RECORDED, "conversations": [first, second, unrated, fourth, fifth]}
    body["pages"] = {"type": "pages", "page": 1, "per_page": 150, "total_pages": 1}
    config = IntercomConfig.model_validate({"access_token": TOKEN})
    before = datetime.now(UTC)
    [page], _ = asyncio.run(
        _pull(config, {"updated_after": 1795500000}, [httpx.Response(200, json=body)])
    )
    by_id = {item.external_id: item for item in page.items}
    assert set(by_id) == {f"{c['id']}:rating" for c in (first, second, fifth)}
    assert len(page.rejected) == 1 and "lacks `id`" in page.rejected[0]
    assert by_id[f"{first['id']}:rating"].created_at >= before
    assert "email" not in (by_id[f"{second['id']}:rating"].customer or {})
    assert page.cursor == {"updated_after": 1795689012 - 1}
