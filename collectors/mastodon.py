"""Mastodon statuses with a hashtag, from one instance's public tag timeline.

``GET {instance}/api/v1/timelines/tag/{tag}?limit=..&min_id=..`` is public on most instances;
an optional ``access_token`` goes as a bearer for those that close their timelines to
anonymous readers. The read pages FORWARD: ``min_id=X`` returns the page just above X (newest
first within the page), so each page's cursor is ``{"min_id": newest id on the page}`` (the
``rel="prev"`` link of the ``Link`` header says the same) and an empty page ends the read.
(``since_id`` would return the newest page instead and skip what lies between.) Status ids are
snowflakes, ``(ms since epoch) << 16``, compared as integers, so a first pull starts at the
snowflake of ``now - backfill_days``. A status fetched late (backfilled, not delivered) can get
an id from its own publication time, below the cursor, and is then not seen: the timeline
itself gives no way to find it. Rate limits: ``X-RateLimit-Limit``/``-Remaining``/``-Reset``
(an ISO time), 300 requests per 5 minutes; the runner's transport pauses on them.
"""

import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import AnyHttpUrl, Field, SecretStr, field_validator

from collectors.base import CollectorConfig, Cursor, Item, Page, expect, json_body, split_entries
from collectors.text import clean, html_to_text

DAY = 86_400.0
TAG = re.compile(r"[\w·]+")  # Mastodon hashtags: word characters, and the middle dot


class MastodonConfig(CollectorConfig):
    """The instance and the hashtag to follow there."""

    base_url: AnyHttpUrl = Field(description="The instance, e.g. https://mastodon.social")
    tag: str = Field(min_length=1, max_length=100, description="The hashtag, without #")
    access_token: SecretStr | None = Field(default=None, description="Bearer token, if needed")
    limit: int = Field(default=40, ge=1, le=40, description="Statuses per request")
    backfill_days: float | None = Field(
        default=30, ge=0, description="How far back a first pull goes (None: everything)"
    )

    @field_validator("tag", mode="before")
    @classmethod
    def _bare_tag(cls, value: Any) -> Any:
        """Accept ``#tag`` as well as ``tag``."""
        if isinstance(value, str):
            value = value.strip().lstrip("#")
            if not TAG.fullmatch(value):
                raise ValueError("a hashtag is letters, digits, _ and · only")
        return value


class MastodonCollector:
    """Statuses with a hashtag on one Mastodon instance (its public tag timeline)."""

    kind: ClassVar[str] = "mastodon"
    title: ClassVar[str] = "Mastodon"
    Config: ClassVar[type[CollectorConfig]] = MastodonConfig

    async def pull(
        self, client: httpx.AsyncClient, config: MastodonConfig, cursor: Cursor | None
    ) -> AsyncIterator[Page]:
        """Pages of statuses above the cursor's ``min_id``, oldest page first."""
        min_id = int((cursor or {}).get("min_id") or _start_id(config.backfill_days))
        while True:
            listed = await _timeline(client, config, min_id)
            if not listed:  # nothing above min_id: the read is complete
                return
            statuses, rejected = split_entries(listed, _unusable)
            if not statuses:  # no id to page on: keep the cursor, say why, try again next run
                yield Page([], {"min_id": str(min_id)}, rejected)
                return
            newest = max(_id(status) for status in statuses)
            expect(newest > min_id, f"the page above min_id={min_id} is not above it", listed)
            min_id = newest
            items = [item for status in statuses if (item := to_item(status)) is not None]
            yield Page(items, {"min_id": str(newest)}, rejected)


def _start_id(backfill_days: float | None) -> int:
    """The snowflake a first pull reads above: ``now - backfill_days``, or 0 for everything."""
    if backfill_days is None:
        return 0
    return int((time.time() - backfill_days * DAY) * 1000) << 16


async def _timeline(
    client: httpx.AsyncClient, config: MastodonConfig, min_id: int
) -> list[dict[str, Any]]:
    """The page of the tag timeline just above ``min_id``, checked."""
    headers = {}
    if config.access_token is not None:
        headers["Authorization"] = f"Bearer {config.access_token.get_secret_value()}"
    url = f"{str(config.base_url).rstrip('/')}/api/v1/timelines/tag/{quote(config.tag, safe='')}"
    response = await client.get(
        url, params={"limit": config.limit, "min_id": str(min_id)}, headers=headers
    )
    response.raise_for_status()
    body = json_body(response)
    expect(isinstance(body, list), "expected a list of statuses", body)
    return list(body)


def _unusable(status: dict[str, Any]) -> str | None:
    return None if _is_snowflake(status.get("id")) else "a status lacks a numeric `id`"


def _is_snowflake(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.isdigit()
    )


def _id(status: dict[str, Any]) -> int:
    return int(status["id"])


def _snowflake_time(snowflake: int) -> datetime:
    return datetime.fromtimestamp((snowflake >> 16) / 1000, UTC)


def _time(value: Any) -> datetime | None:
    """An ISO 8601 time as an aware datetime (naive taken as UTC); None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def to_item(status: dict[str, Any]) -> Item | None:
    """A status as feedback; None for a boost (its original is listed itself) or no words."""
    if status.get("reblog"):
        return None
    text = html_to_text(status.get("content"))
    title = clean(status.get("spoiler_text"))  # the content warning, when there is one
    if text is None and title is None:
        return None
    account = status.get("account")
    if not isinstance(account, dict):
        account = {}
    return Item(
        external_id=str(status["id"]),
        channel="social",
        # Without a `created_at`, the time in the id (a snowflake: milliseconds << 16).
        created_at=_time(status.get("created_at")) or _snowflake_time(_id(status)),
        text=text,
        title=title,
        author=clean(account.get("acct")) or clean(account.get("username")),
        url=_web_url(status.get("url")) or _web_url(status.get("uri")),
        language=clean(status.get("language")),
        metadata=_metadata(status, account),
    )


def _metadata(status: dict[str, Any], account: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        key: status[key]
        for key in ("replies_count", "reblogs_count", "favourites_count", "visibility")
        if status.get(key) is not None
    }
    tags = status.get("tags")
    tags = [tags] if isinstance(tags, dict) else tags if isinstance(tags, list) else []
    names = [tag["name"] for tag in tags if isinstance(tag, dict) and clean(tag.get("name"))]
    if names:
        metadata["tags"] = names
    for key, value in (
        ("account_url", _web_url(account.get("url"))),
        ("display_name", clean(account.get("display_name"))),
        ("edited_at", clean(status.get("edited_at"))),
        ("in_reply_to_id", clean(status.get("in_reply_to_id"))),
    ):
        if value is not None:
            metadata[key] = value
    media = status.get("media_attachments")
    if isinstance(media, list) and media:
        metadata["media_count"] = len(media)
    return metadata


def _web_url(value: Any) -> str | None:
    url = clean(value)
    return url if url is not None and url.startswith(("https://", "http://")) else None
