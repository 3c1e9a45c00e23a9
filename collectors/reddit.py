"""Reddit posts matching a search, or new in a subreddit, through Reddit's OAuth API.

Auth: an application-only token from ``POST https://www.reddit.com/api/v1/access_token`` (HTTP
Basic ``client_id:client_secret``, form ``grant_type=client_credentials``), or a ready
``access_token``, sent as a bearer, with the descriptive User-Agent Reddit's API rules require on
every request. One token serves the whole run; a 401 fetches a new one, once.

``GET {base_url}/search?q=..&sort=new&type=link`` (``/r/{sub}/search?..&restrict_sr=1`` with a
subreddit too) or ``GET {base_url}/r/{sub}/new`` returns a ``Listing`` newest first, ``limit``
at most 100 posts, paged with ``after`` (the fullname of the last post). The read sweeps down
to the last high-water mark (``Sweep``; ``after`` is its resume state). Listings end after about
1,000 posts, so a first pull reaches back at most that far.

Rate limits: about 100 requests a minute per client id, reported in ``X-Ratelimit-Used``,
``X-Ratelimit-Remaining`` and ``X-Ratelimit-Reset`` (seconds); the runner's transport pauses on
them.
"""

import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator

from collectors.base import CollectorConfig, Cursor, Item, Page, expect, json_body, split_entries
from collectors.sweep import Sweep
from collectors.text import clean

DAY = 86_400.0
REDDIT = "https://www.reddit.com"
GONE = frozenset({"[deleted]", "[removed]"})  # what Reddit leaves of a deleted/removed post
SUBREDDIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{1,20}(\+[A-Za-z0-9][A-Za-z0-9_]{1,20})*")


class RedditConfig(CollectorConfig):
    """What to read on Reddit, and the app credentials to read it with."""

    base_url: AnyHttpUrl = AnyHttpUrl("https://oauth.reddit.com")
    token_url: AnyHttpUrl = AnyHttpUrl(f"{REDDIT}/api/v1/access_token")
    client_id: str | None = Field(default=None, min_length=1, description="The app's client id")
    client_secret: SecretStr | None = Field(default=None, description="The app's secret")
    access_token: SecretStr | None = Field(default=None, description="A ready bearer token")
    user_agent: str = Field(
        min_length=8,
        max_length=300,
        description='Reddit wants "<platform>:<app id>:<version> (by /u/<username>)"',
    )
    query: str | None = Field(default=None, min_length=1, max_length=512)
    subreddit: str | None = Field(default=None, description="A name, or several joined by +")
    limit: int = Field(default=100, ge=1, le=100, description="Posts per request")
    backfill_days: float = Field(default=30, ge=0, description="How far back a first pull goes")

    @field_validator("subreddit", mode="before")
    @classmethod
    def _bare_name(cls, value: Any) -> Any:
        """Accept ``r/name`` and ``/r/name/`` as well as ``name``."""
        if isinstance(value, str):
            value = re.sub(r"^/?r/", "", value.strip()).strip("/") or None
            if value is not None and not SUBREDDIT.fullmatch(value):
                raise ValueError("not a subreddit name (letters, digits, _; several joined by +)")
        return value

    @model_validator(mode="after")
    def _complete(self) -> "RedditConfig":
        if self.query is None and self.subreddit is None:
            raise ValueError("give a `query`, a `subreddit`, or both")
        if self.access_token is None and (self.client_id is None or self.client_secret is None):
            raise ValueError("give `client_id` and `client_secret`, or an `access_token`")
        return self


class RedditCollector:
    """Posts from Reddit: a search sorted by new, or a subreddit's new posts."""

    kind: ClassVar[str] = "reddit"
    title: ClassVar[str] = "Reddit"
    Config: ClassVar[type[CollectorConfig]] = RedditConfig

    async def pull(
        self, client: httpx.AsyncClient, config: RedditConfig, cursor: Cursor | None
    ) -> AsyncIterator[Page]:
        """Posts above the last high-water mark, newest first, one page per request."""
        sweep = Sweep.start(cursor, backfill_from=time.time() - config.backfill_days * DAY)
        api = _Api(client, config)
        while True:
            listing = await api.listing(sweep.resume.get("after"))
            children, rejected = split_entries(listing["children"], _unusable)
            posts = [child["data"] for child in children if child.get("kind") == "t3"]
            # An undated post counts as at the mark: read, but it neither ends nor lifts it.
            keep, below = sweep.fresh([_post_stamp(post, sweep.high_water) for post in posts])
            items = [item for i in keep if (item := to_item(posts[i])) is not None]
            after = listing.get("after")
            stuck = after == sweep.resume.get("after")  # the same page again: it would never end
            ended = not (posts or rejected) or not isinstance(after, str) or not after or stuck
            if below or ended:
                yield Page(items, sweep.done_cursor(), rejected)
                return
            yield Page(items, sweep.page_cursor(after=after), rejected)


class _Api:
    """One run's requests: the listing to read, and the bearer token it is read with."""

    def __init__(self, client: httpx.AsyncClient, config: RedditConfig) -> None:
        self.client = client
        self.config = config
        self.token = config.access_token.get_secret_value() if config.access_token else None
        self.can_refresh = config.client_id is not None and config.client_secret is not None

    async def listing(self, after: str | None) -> dict[str, Any]:
        """The listing's ``data`` from ``after`` on (the top when None)."""
        response = await self._get(after)
        if response.status_code == 401 and self.can_refresh:
            self.can_refresh = False  # an expired token is renewed once; a second 401 is real
            self.token = None
            response = await self._get(after)
        response.raise_for_status()
        return _listing_data(json_body(response))

    async def _get(self, after: str | None) -> httpx.Response:
        if self.token is None:
            self.token = await self._fetch_token()
        path, params = _listing_request(self.config)
        if after:
            params["after"] = after
        return await self.client.get(
            f"{str(self.config.base_url).rstrip('/')}{path}",
            params=params,
            headers={"Authorization": f"bearer {self.token}", "User-Agent": self.config.user_agent},
        )

    async def _fetch_token(self) -> str:
        config = self.config
        assert config.client_id is not None and config.client_secret is not None
        response = await self.client.post(
            str(config.token_url),
            auth=httpx.BasicAuth(config.client_id, config.client_secret.get_secret_value()),
            data={"grant_type": "client_credentials"},
            headers={"User-Agent": config.user_agent},
        )
        response.raise_for_status()
        body = json_body(response)
        # Reddit answers a refused grant with 200 and {"error": "..."}: that is no token.
        refusal = body.get("error") if isinstance(body, dict) else "not an object"
        expect(
            isinstance(body, dict) and isinstance(body.get("access_token"), str),
            f"the token request was refused: {refusal}",
            body,
        )
        return str(body["access_token"])


def _listing_request(config: RedditConfig) -> tuple[str, dict[str, str | int]]:
    """The path and query of the configured listing (``raw_json=1``: text not HTML-escaped)."""
    params: dict[str, str | int] = {"limit": config.limit, "raw_json": 1}
    if config.query is None:
        return f"/r/{config.subreddit}/new", params
    params.update({"q": config.query, "sort": "new", "type": "link"})
    if config.subreddit is None:
        return "/search", params
    params["restrict_sr"] = 1
    return f"/r/{config.subreddit}/search", params


def _listing_data(body: Any) -> dict[str, Any]:
    """A Listing's ``data``, checked: it has a list of children."""
    data = body.get("data") if isinstance(body, dict) else None
    expect(
        isinstance(data, dict) and isinstance(data.get("children"), list),
        "expected a Listing with `data.children`",
        body,
    )
    assert isinstance(data, dict)
    return data


def _unusable(child: dict[str, Any]) -> str | None:
    post = child.get("data")
    if not isinstance(post, dict):
        return "a listing child is not a {kind, data} object"
    if child.get("kind") == "t3" and not (post.get("name") or post.get("id")):
        return "a post lacks `name` and `id`"
    return None


def _time(post: dict[str, Any]) -> datetime | None:
    """When it was posted: ``created_utc`` (epoch seconds, a number or numeric string), else
    ``created``; None without either."""
    for key in ("created_utc", "created"):
        value = post.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            continue
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            continue
    return None


def _post_stamp(post: dict[str, Any], undated: float) -> float:
    when = _time(post)
    return when.timestamp() if when is not None else undated


def to_item(post: dict[str, Any]) -> Item | None:
    """A post as feedback (dated now if it has no time); None when nothing is left of it (no
    title, text deleted)."""
    title = clean(post.get("title"))
    text = _said(post.get("selftext"))
    if text is None and title is None:
        return None
    name = clean(post.get("name")) or f"t3_{post['id']}"
    permalink = _absolute(post.get("permalink"))
    author = clean(post.get("author"))
    return Item(
        external_id=name,
        channel="social",
        created_at=_time(post) or datetime.now(UTC),  # undated: the read's time
        text=text,
        title=title,
        author=None if author in GONE else author,
        url=permalink,
        metadata=_metadata(post, permalink),
    )


def _metadata(post: dict[str, Any], permalink: str | None) -> dict[str, Any]:
    metadata = {
        key: post[field]
        for key, field in (
            ("subreddit", "subreddit"),
            ("score", "score"),
            ("num_comments", "num_comments"),
            ("flair", "link_flair_text"),
            ("removed_by_category", "removed_by_category"),
        )
        if post.get(field) not in (None, "")
    }
    link = _absolute(post.get("url"))
    if link and post.get("is_self") is not True and not _same(link, permalink):
        metadata["link"] = link  # a link post (or a crosspost): where it points
    if post.get("over_18") is True:
        metadata["nsfw"] = True
    return metadata


def _said(selftext: Any) -> str | None:
    """A self post's text; None for a link post, and for the marker of a deleted one."""
    text = clean(selftext)
    return None if text in GONE else text


def _absolute(value: Any) -> str | None:
    """A Reddit URL made absolute (permalinks and crosspost URLs come as paths)."""
    url = clean(value)
    if url is None:
        return None
    if url.startswith("/"):
        return REDDIT + url
    return url if url.startswith(("https://", "http://")) else None


def _same(link: str, permalink: str | None) -> bool:
    return permalink is not None and link.rstrip("/") == permalink.rstrip("/")
