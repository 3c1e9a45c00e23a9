"""Zendesk CSAT (legacy satisfaction ratings), read oldest first from a start time.

``GET {base_url}/api/v2/satisfaction_ratings.json?score=..&start_time=T&page[size]=..``
(``&page[after]=..`` from the second page on), with ``base_url`` =
``https://{subdomain}.zendesk.com``. Auth is an API token (HTTP Basic as
``{email}/token:{api_token}``) or an OAuth access token (bearer); the endpoint is for admins.
Ratings come oldest first from ``start_time`` (unix seconds). Cursor pagination answers
``meta{has_more, after_cursor}`` (and ``links.next``); the legacy offset shape (``next_page``,
``count``) is followed too. While a read goes on, the cursor keeps its ``start_time`` and the
page position (``after`` or ``page``); once ``has_more`` is false the next read starts a second
before the newest ``updated_at`` seen, so the boundary is re-read rather than missed. A rating
that changes (bad, then good after a follow-up) comes again under the same id: the store keeps
the first version and reports the re-send as a duplicate. Rate limits (``X-Rate-Limit``,
``X-Rate-Limit-Remaining``, 429 with ``Retry-After``) are honoured by the runner's transport.
"""

import base64
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import AnyHttpUrl, Field, SecretStr, model_validator

from collectors.base import CollectorConfig, Cursor, Item, Page, expect, json_body, split_entries
from collectors.text import clean

DAY = 86_400.0
SUBDOMAIN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
THUMBS = {"good": 1, "bad": 0}
NO_REASON = "No reason provided"  # what Zendesk says for a rating without a follow-up reason

ScoreFilter = Literal[
    "offered", "unoffered", "received", "received_with_comment", "received_without_comment",
    "good", "good_with_comment", "good_without_comment",
    "bad", "bad_with_comment", "bad_without_comment",
]  # fmt: skip


class ZendeskConfig(CollectorConfig):
    """Which Zendesk account to read, how to authenticate, and which ratings to keep."""

    base_url: AnyHttpUrl = Field(
        description="https://{subdomain}.zendesk.com; built from `subdomain` when that is given"
    )
    subdomain: str | None = Field(
        default=None, pattern=SUBDOMAIN, description="acme in acme.zendesk.com"
    )
    email: str | None = Field(
        default=None, pattern=r"^[^@\s]+@[^@\s]+$", description="The admin the API token is for"
    )
    api_token: SecretStr | None = Field(default=None, description="Admin Center > API token")
    access_token: SecretStr | None = Field(default=None, description="An OAuth access token")
    score: ScoreFilter | None = Field(
        default="received", description="Zendesk's score filter; `received` is good and bad"
    )
    page_size: int = Field(default=100, ge=1, le=100)
    backfill_days: float = Field(default=30, ge=0, description="How far back a first pull goes")

    @model_validator(mode="before")
    @classmethod
    def _base_url_from_subdomain(cls, data: Any) -> Any:
        # The subdomain names the account, so it decides the URL (a stored config keeps both).
        if isinstance(data, dict) and isinstance(data.get("subdomain"), str):
            subdomain = data["subdomain"].strip().lower()
            data = {**data, "subdomain": subdomain}
            if subdomain:
                data["base_url"] = f"https://{subdomain}.zendesk.com"
        return data

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> "ZendeskConfig":
        token = self.email is not None or self.api_token is not None
        if token and (self.email is None or self.api_token is None):
            raise ValueError("an API token needs both `email` and `api_token`")
        if token == (self.access_token is not None):
            raise ValueError("give `email` + `api_token`, or `access_token`, not both or neither")
        return self


@dataclass
class _Read:
    """One oldest-first read: its fixed ``start_time``, the newest stamp seen, where it is."""

    start_time: int
    newest: float
    position: dict[str, Any]

    @classmethod
    def start(cls, cursor: Cursor | None, *, backfill_from: float) -> "_Read":
        cursor = cursor or {}
        start_time = int(cursor.get("start_time", backfill_from))
        position = {key: cursor[key] for key in ("after", "page") if cursor.get(key) is not None}
        return cls(start_time, float(cursor.get("newest", start_time)), position)

    def page_cursor(self, position: dict[str, Any]) -> Cursor:
        """The cursor after a page when the read goes on at ``position``."""
        self.position = position
        return {"start_time": self.start_time, "newest": self.newest, **position}

    def done_cursor(self) -> Cursor:
        """The cursor once the listing is exhausted: the next read starts at the newest stamp."""
        return {"start_time": max(self.start_time, int(self.newest) - 1)}


class ZendeskCollector:
    """Satisfaction ratings (good / bad, with the customer's comment) from Zendesk Support."""

    kind: ClassVar[str] = "zendesk"
    title: ClassVar[str] = "Zendesk CSAT"
    Config: ClassVar[type[CollectorConfig]] = ZendeskConfig

    async def pull(
        self, client: httpx.AsyncClient, config: ZendeskConfig, cursor: Cursor | None
    ) -> AsyncIterator[Page]:
        """Ratings from the cursor's start time on, oldest first, one page per request."""
        read = _Read.start(cursor, backfill_from=time.time() - config.backfill_days * DAY)
        site = str(config.base_url).rstrip("/")
        while True:
            body = await self._list(client, config, read)
            ratings, rejected = split_entries(body["satisfaction_ratings"], _unusable)
            stamps = [_stamp(rating, read.newest) for rating in ratings]
            read.newest = max([read.newest, *stamps])
            items = [item for rating in ratings if (item := to_item(rating, site)) is not None]
            position = next_position(body, read.position)
            if position is None:
                yield Page(items, read.done_cursor(), rejected)
                return
            yield Page(items, read.page_cursor(position), rejected)

    @staticmethod
    async def _list(
        client: httpx.AsyncClient, config: ZendeskConfig, read: _Read
    ) -> dict[str, Any]:
        params: dict[str, str | int] = {"start_time": read.start_time}
        if config.score is not None:
            params["score"] = config.score
        if "page" in read.position:  # the account answered in the legacy offset shape
            params.update(page=int(read.position["page"]), per_page=config.page_size)
        else:
            params["page[size]"] = config.page_size
            if "after" in read.position:
                params["page[after]"] = str(read.position["after"])
        url = f"{str(config.base_url).rstrip('/')}/api/v2/satisfaction_ratings.json"
        response = await client.get(url, params=params, headers=auth_headers(config))
        response.raise_for_status()
        return checked(json_body(response))


def auth_headers(config: ZendeskConfig) -> dict[str, str]:
    """The Authorization header for an API token (Basic ``email/token``) or an OAuth token."""
    if config.access_token is not None:
        return {"Authorization": f"Bearer {config.access_token.get_secret_value()}"}
    assert config.email is not None and config.api_token is not None  # the config checks it
    pair = f"{config.email}/token:{config.api_token.get_secret_value()}"
    return {"Authorization": f"Basic {base64.b64encode(pair.encode()).decode()}"}


def checked(body: Any) -> dict[str, Any]:
    """``body`` if it is a ratings listing."""
    expect(
        isinstance(body, dict) and isinstance(body.get("satisfaction_ratings"), list),
        "expected an object with a `satisfaction_ratings` list",
        body,
    )
    return dict(body)


def _unusable(rating: dict[str, Any]) -> str | None:
    return "a rating lacks `id`" if rating.get("id") in (None, "") else None


def next_position(body: dict[str, Any], current: dict[str, Any]) -> dict[str, Any] | None:
    """Where the next page starts (``after`` cursor or legacy ``page``); None at the end."""
    meta = body.get("meta")
    if isinstance(meta, dict) and "has_more" in meta:
        if not meta["has_more"]:
            return None
        links = body.get("links")
        following = links.get("next") if isinstance(links, dict) else None
        after = clean(meta.get("after_cursor")) or _query_value(following, "page[after]")
        expect(after is not None, "`has_more` is true but there is no `after_cursor`", meta)
        expect(after != current.get("after"), "the `after_cursor` did not move on", meta)
        return {"after": after}
    next_page = body.get("next_page")
    if not next_page:
        return None
    page = _query_value(next_page, "page")
    expect(page is not None and page.isdigit(), "`next_page` carries no page number", next_page)
    assert page is not None
    expect(int(page) != current.get("page"), "`next_page` did not move on", next_page)
    return {"page": int(page)}


def _query_value(url: Any, name: str) -> str | None:
    if not isinstance(url, str):
        return None
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None


def _time(value: Any) -> datetime | None:
    """A Zendesk time (ISO 8601, ``Z``) as an aware datetime; None when unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _stamp(rating: dict[str, Any], undated: float) -> float:
    """When a rating last changed (epoch seconds): the read's high-water mark moves to it;
    ``undated`` (the mark as it is) for a rating with no readable time."""
    when = _time(rating.get("updated_at")) or _time(rating.get("created_at"))
    return when.timestamp() if when is not None else undated


def to_item(rating: dict[str, Any], site: str) -> Item | None:
    """A rating as feedback: good is thumbs 1, bad is 0; None for one with no score or comment."""
    label = (clean(rating.get("score")) or "").lower()
    score = THUMBS.get(label)
    text = clean(rating.get("comment"))
    if score is None and text is None:  # offered / unoffered, nothing said yet
        return None
    # Without either time (real feeds omit fields now and then): the read's time.
    created = _time(rating.get("created_at")) or _time(rating.get("updated_at"))
    created = created or datetime.now(UTC)
    ticket_id = rating.get("ticket_id")
    requester_id = rating.get("requester_id")
    return Item(
        external_id=str(rating["id"]),
        channel="rating",
        created_at=created,
        text=text,
        score_type="thumbs" if score is not None else None,
        score=score,
        url=f"{site}/agent/tickets/{ticket_id}" if ticket_id not in (None, "") else None,
        customer={"ref": f"zendesk:{requester_id}"} if requester_id not in (None, "") else None,
        metadata=_metadata(rating, label),
    )


def _metadata(rating: dict[str, Any], label: str) -> dict[str, Any]:
    metadata = {
        key: rating[key]
        for key in ("ticket_id", "assignee_id", "group_id", "url", "updated_at")
        if rating.get(key) not in (None, "")
    }
    if label:
        metadata["rating"] = label
    reason = clean(rating.get("reason"))
    if reason and reason != NO_REASON and rating.get("reason_code") != 0:
        metadata["reason"] = reason
        for key in ("reason_code", "reason_id"):
            if rating.get(key) is not None:
                metadata[key] = rating[key]
    return metadata
