"""Apple App Store customer reviews, through the public iTunes customer-reviews RSS feed (JSON).

``GET {base_url}/{country}/rss/customerreviews/page={n}/id={app_id}/sortBy=mostRecent/json``
serves one storefront's reviews newest first, 50 a page, pages 1 to 10 only (so the newest ~500
reviews per country are all the feed ever shows); ``feed.link[rel=last]`` names the last page.
Every value sits under ``.label``; a page with one review has ``entry`` as an object, an empty
page has no ``entry`` at all, older feeds put the app's own metadata first, and the store answers
some pages past the end with 400 or 404 (taken as the end of the listing, not a failure).

Each configured country is its own newest-first read (``Sweep``) down to its own high-water
mark, so the cursor keeps one sweep state per country:
``{"countries": {"us": {"high_water": .., "sweep": {"newest": .., "resume": {"page": n,
"last": m}}}}}``. No authentication and no documented rate limit (the runner's transport still
waits out 429 and retries 5xx).
"""

import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import AnyHttpUrl, Field, field_validator

from collectors.base import (
    CollectorConfig,
    Cursor,
    Item,
    Page,
    expect,
    json_body,
)
from collectors.sweep import Sweep
from collectors.text import clean

DAY = 86_400.0
MAX_PAGE = 10  # the feed's depth limit: page 11 and beyond are refused
PAST_THE_END = {400, 404}  # how the store answers some pages past the last one
LAST_PAGE = re.compile(r"/page=(\d+)/")


class AppStoreConfig(CollectorConfig):
    """Which app to read, in which storefronts."""

    base_url: AnyHttpUrl = AnyHttpUrl("https://itunes.apple.com")
    app_id: str = Field(pattern=r"^\d{1,20}$", description="The app's numeric App Store id")
    countries: list[str] = Field(
        default=["us"], min_length=1, max_length=200, description="ISO country codes (storefronts)"
    )
    # The feed holds only the newest ~500 reviews a country, so a first pull may take them all.
    backfill_days: float = Field(default=3650, ge=0, description="How far back a first pull goes")

    @field_validator("app_id", mode="before")
    @classmethod
    def _bare_id(cls, value: Any) -> Any:
        """Accept ``id123`` as the store's URLs write it, as well as ``123``."""
        return value.strip().removeprefix("id") if isinstance(value, str) else value

    @field_validator("countries")
    @classmethod
    def _country_codes(cls, value: list[str]) -> list[str]:
        """Two-letter codes, lower case as the feed's paths use them, each once."""
        codes = [code.strip().lower() for code in value]
        for code in codes:
            if not re.fullmatch(r"[a-z]{2}", code):
                raise ValueError(f"{code!r} is not a two-letter ISO country code")
        return list(dict.fromkeys(codes))


class AppStoreCollector:
    """Customer reviews of one app from the App Store's RSS feed, per storefront."""

    kind: ClassVar[str] = "app_store"
    title: ClassVar[str] = "Apple App Store"
    Config: ClassVar[type[CollectorConfig]] = AppStoreConfig

    async def pull(
        self, client: httpx.AsyncClient, config: AppStoreConfig, cursor: Cursor | None
    ) -> AsyncIterator[Page]:
        """Reviews above each country's high-water mark, newest first, one page per request."""
        states: dict[str, Any] = dict((cursor or {}).get("countries") or {})
        backfill_from = time.time() - config.backfill_days * DAY
        for country in config.countries:
            sweep = Sweep.start(states.get(country), backfill_from=backfill_from)
            async for items, state, rejected in _read_country(client, config, country, sweep):
                states[country] = state
                yield Page(items, {"countries": dict(states)}, rejected)


async def _read_country(
    client: httpx.AsyncClient, config: AppStoreConfig, country: str, sweep: Sweep
) -> AsyncIterator[tuple[list[Item], Cursor, list[str]]]:
    """One storefront's pages from where its sweep stands, each with that country's cursor
    and the entries it had to leave out."""
    while True:
        number = int(sweep.resume.get("page", 1))
        known_last = sweep.resume.get("last")
        feed = await _fetch_page(client, config, country, number, known_last)
        if feed is None:  # the store refused a page past the end: the listing is read
            yield [], sweep.done_cursor(), []
            return
        entries, rejected = reviews_of(feed)
        last = last_page(feed) or known_last  # None: the feed did not say
        undated = feed_time(feed)
        # An undated review counts as at the mark: read, but it neither ends nor lifts the read.
        keep, went_below = sweep.fresh([_stamp(entry, sweep.high_water) for entry in entries])
        items = [
            item
            for i in keep
            if (item := to_item(entries[i], country=country, app_id=config.app_id,
                                undated=undated)) is not None
        ]  # fmt: skip
        if not (entries or rejected) or went_below or number >= min(last or MAX_PAGE, MAX_PAGE):
            yield items, sweep.done_cursor(), rejected
            return
        yield items, sweep.page_cursor(page=number + 1, last=last), rejected


async def _fetch_page(
    client: httpx.AsyncClient,
    config: AppStoreConfig,
    country: str,
    number: int,
    known_last: int | None,
) -> dict[str, Any] | None:
    """The ``feed`` object of one page; None when the store says the page is past the end."""
    base = str(config.base_url).rstrip("/")
    path = f"/{country}/rss/customerreviews/page={number}/id={config.app_id}/sortBy=mostRecent/json"
    response = await client.get(base + path)
    if response.status_code in PAST_THE_END and _past_the_end(
        response.status_code, number, known_last
    ):
        return None
    response.raise_for_status()
    body = json_body(response)
    expect(
        isinstance(body, dict) and isinstance(body.get("feed"), dict),
        "expected an object with a `feed` object",
        body,
    )
    return dict(body["feed"])


def _past_the_end(status: int, number: int, known_last: int | None) -> bool:
    """Whether a 400/404 answer means "no such page" rather than a failed read.

    Page 1 always exists, so a refusal there is an error (a wrong app id). Further down, 404
    says the page is not there (the listing shrank below what ``rel=last`` promised); a 400 is
    only an answer about the listing's end for a page past the last one the feed named.
    """
    if number <= 1:
        return False
    return status == 404 or known_last is None or number > known_last


def reviews_of(feed: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The page's reviews (``entry`` as a list, without the app's own metadata entry), and why
    each entry that cannot be a review (no object, no id) was left out."""
    entries = feed.get("entry")
    if entries is None:  # an empty page (past the last review) has no `entry` at all
        return [], []
    if isinstance(entries, dict):  # a page with a single review
        entries = [entries]
    expect(isinstance(entries, list), "`feed.entry` is neither a list nor an object", feed)
    reviews, rejected = [], []
    for entry in entries:
        if not isinstance(entry, dict):
            rejected.append(f"an entry is not an object: {json.dumps(entry, default=str)[:200]}")
        elif "im:rating" not in entry and ("im:name" in entry or "im:artist" in entry):
            continue  # older feeds lead with the app itself, which is no review
        elif not label(entry.get("id")):
            rejected.append(f"a review has no `id.label`: {json.dumps(entry, default=str)[:200]}")
        else:
            reviews.append(entry)
    return reviews, rejected


def review_time(entry: dict[str, Any], undated: datetime) -> datetime:
    """When the review was written (or last edited): ``updated.label``, tz-aware; ``undated``
    when the entry has no readable ``updated`` (real feeds omit it now and then)."""
    return _time(label(entry.get("updated"))) or undated


def _stamp(entry: dict[str, Any], undated: float) -> float:
    when = _time(label(entry.get("updated")))
    return when.timestamp() if when else undated


def feed_time(feed: dict[str, Any]) -> datetime:
    """The date an undated review gets: the feed's own ``updated``, else now (the read's time)."""
    return _time(label(feed.get("updated"))) or datetime.now(UTC)


def _time(value: str | None) -> datetime | None:
    try:
        when = datetime.fromisoformat(value or "")
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def last_page(feed: dict[str, Any]) -> int | None:
    """The page number ``feed.link[rel=last]`` names, if the feed names one."""
    links = feed.get("link")
    for link in links if isinstance(links, list) else [links]:
        attributes = link.get("attributes") if isinstance(link, dict) else None
        if not isinstance(attributes, dict) or attributes.get("rel") != "last":
            continue
        href = attributes.get("href")
        # The href is ".../page=10/id=../xml?urlDesc=..": take the path's page, not the query's.
        match = LAST_PAGE.search(href.split("?")[0]) if isinstance(href, str) else None
        return int(match.group(1)) if match else None
    return None


def label(node: Any) -> str | None:
    """The ``.label`` of a feed value; of a list (``content`` as text and html), the text one."""
    if isinstance(node, list):
        texts = [n for n in node if isinstance(n, dict) and _type(n) in (None, "text")]
        node = texts[0] if texts else (node[0] if node else None)
    value = node.get("label") if isinstance(node, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else None


def _type(node: dict[str, Any]) -> str | None:
    attributes = node.get("attributes")
    return attributes.get("type") if isinstance(attributes, dict) else None


def _number(node: Any) -> int | None:
    value = label(node)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def to_item(
    entry: dict[str, Any], *, country: str, app_id: str, undated: datetime | None = None
) -> Item | None:
    """A review as feedback (dated ``undated``, else now, if it has no ``updated``); None for
    one with no words and no rating."""
    rating = _number(entry.get("im:rating"))
    score = rating if rating is not None and 1 <= rating <= 5 else None
    text = clean(label(entry.get("content")))
    title = clean(label(entry.get("title")))
    if text is None and title is None and score is None:
        return None
    author: dict[str, Any] = entry["author"] if isinstance(entry.get("author"), dict) else {}
    profile = clean(label(author.get("uri")))
    metadata: dict[str, Any] = {
        "version": clean(label(entry.get("im:version"))),
        "vote_sum": _number(entry.get("im:voteSum")),
        "vote_count": _number(entry.get("im:voteCount")),
    }
    metadata = {key: value for key, value in metadata.items() if value is not None}
    return Item(
        external_id=str(label(entry.get("id"))),
        channel="review",
        created_at=review_time(entry, undated or datetime.now(UTC)),
        text=text,
        title=title,
        score_type="stars" if score is not None else None,
        score=score,
        author=clean(label(author.get("name"))),
        url=profile if profile and profile.startswith(("https://", "http://")) else None,
        metadata={**metadata, "country": country, "app_id": app_id},
    )
