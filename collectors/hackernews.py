"""Hacker News stories and comments matching a query, through the Algolia search API.

``GET {base_url}/search_by_date?query=..&tags=..&numericFilters=created_at_i>T,created_at_i<B``
returns hits newest first, at most ~1,000 per query. Each request narrows the time window to
below the oldest hit seen so far, so the read slices past that limit and resumes where it left
off after a crash. No authentication; the documented budget is ~10,000 requests an hour.
"""

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import AnyHttpUrl, Field

from collectors.base import CollectorConfig, Cursor, Item, Page, expect, json_body, split_entries
from collectors.sweep import Sweep
from collectors.text import clean, html_to_text

DAY = 86_400.0


class HackerNewsConfig(CollectorConfig):
    """What to search for on Hacker News."""

    base_url: AnyHttpUrl = AnyHttpUrl("https://hn.algolia.com/api/v1")
    query: str = Field(min_length=1, max_length=200, description="Words to search for")
    tags: str = Field(default="(story,comment)", description="Algolia tags filter")
    page_size: int = Field(default=100, ge=1, le=1000)
    backfill_days: float = Field(default=30, ge=0, description="How far back a first pull goes")


class HackerNewsCollector:
    """Stories and comments from Hacker News (Algolia ``search_by_date``)."""

    kind: ClassVar[str] = "hackernews"
    title: ClassVar[str] = "Hacker News"
    Config: ClassVar[type[CollectorConfig]] = HackerNewsConfig

    async def pull(
        self, client: httpx.AsyncClient, config: HackerNewsConfig, cursor: Cursor | None
    ) -> AsyncIterator[Page]:
        """Hits above the last high-water mark, newest first, one page per request."""
        sweep = Sweep.start(cursor, backfill_from=time.time() - config.backfill_days * DAY)
        while True:
            before = sweep.resume.get("before")
            page_number = int(sweep.resume.get("page", 0))
            body = await self._search(client, config, sweep.high_water, before, page_number)
            hits, rejected = split_entries(body["hits"], _unusable)
            # An undated hit counts as at the mark: read, but it neither narrows nor lifts it.
            stamps = [_stamp(hit, sweep.high_water) for hit in hits]
            keep, _ = sweep.fresh(stamps)
            items = [item for i in keep if (item := to_item(hits[i])) is not None]
            if len(body["hits"]) < config.page_size:  # the window is exhausted: read complete
                yield Page(items, sweep.done_cursor(), rejected)
                return
            dated = [stamp for hit, stamp in zip(hits, stamps, strict=True) if _time(hit)]
            expect(bool(dated), "a full page of hits without one `created_at_i`", body)
            oldest = int(min(dated))
            # Narrow the window below the oldest hit (inclusive, so same-second hits are not
            # skipped); if a whole page shares one second, page within that second instead.
            same_second = before is not None and oldest >= int(before) - 1
            resume = {"before": oldest + 1, "page": page_number + 1 if same_second else 0}
            yield Page(items, sweep.page_cursor(**resume), rejected)

    @staticmethod
    async def _search(
        client: httpx.AsyncClient,
        config: HackerNewsConfig,
        since: float,
        before: int | None,
        page: int,
    ) -> dict[str, Any]:
        filters = [f"created_at_i>={int(since)}"]
        if before is not None:
            filters.append(f"created_at_i<{before}")
        params: dict[str, str | int] = {
            "query": config.query,
            "tags": config.tags,
            "numericFilters": ",".join(filters),
            "hitsPerPage": config.page_size,
            "page": page,
        }
        url = f"{str(config.base_url).rstrip('/')}/search_by_date"
        response = await client.get(url, params=params)
        response.raise_for_status()
        body = json_body(response)
        expect(
            isinstance(body, dict) and isinstance(body.get("hits"), list),
            "expected an object with a `hits` list",
            body,
        )
        return dict(body)


def _unusable(hit: dict[str, Any]) -> str | None:
    return None if hit.get("objectID") else "a hit lacks `objectID`"


def _time(hit: dict[str, Any]) -> datetime | None:
    """When it was posted: ``created_at_i``, else the ISO ``created_at``; None without both."""
    stamp = hit.get("created_at_i")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        return datetime.fromtimestamp(float(stamp), UTC)
    try:
        when = datetime.fromisoformat(str(hit.get("created_at")).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _stamp(hit: dict[str, Any], undated: float) -> float:
    when = _time(hit)
    return when.timestamp() if when is not None else undated


def to_item(hit: dict[str, Any]) -> Item | None:
    """A story or comment as feedback (dated now if the hit has no time); None for one with no
    words left (deleted, link-only)."""
    tags = hit.get("_tags") or []
    is_comment = "comment" in tags or hit.get("comment_text") is not None
    text = html_to_text(hit.get("comment_text") if is_comment else hit.get("story_text"))
    title = None if is_comment else clean(hit.get("title"))
    if text is None and title is None:
        return None
    object_id = str(hit["objectID"])
    metadata = {
        key: hit[key]
        for key in ("points", "num_comments", "story_id", "story_title", "parent_id")
        if hit.get(key) is not None
    }
    metadata["type"] = "comment" if is_comment else "story"
    if not is_comment and clean(hit.get("url")):
        metadata["link"] = hit["url"]
    return Item(
        external_id=object_id,
        channel="social",
        created_at=_time(hit) or datetime.now(UTC),  # undated: the read's time
        text=text,
        title=title,
        author=clean(hit.get("author")),
        url=f"https://news.ycombinator.com/item?id={object_id}",
        metadata=metadata,
    )
