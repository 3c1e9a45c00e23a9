"""Bluesky posts matching a search query, through the ``app.bsky.feed.searchPosts`` XRPC call.

Auth: search needs a session since 2025. ``POST {base_url}/xrpc/com.atproto.server.createSession``
with ``{"identifier": handle, "password": app_password}`` returns ``accessJwt`` and
``refreshJwt``; one session serves the whole run, and an expired access token (``ExpiredToken``:
HTTP 400 from a PDS, 401 from the AppView) is renewed once with
``com.atproto.server.refreshSession``. Both calls go to one ``base_url``, the PDS (default
``https://bsky.social``), which proxies ``app.bsky.*`` calls to the AppView with the session's
own credentials; an account on another PDS sets ``base_url`` to that host.

``GET {base_url}/xrpc/app.bsky.feed.searchPosts?q=..&sort=latest&since=..&lang=..&limit=..``
returns posts newest first (by ``sortAt``: the earlier of ``createdAt`` and ``indexedAt``),
at most 100 a page, each page naming the next with an opaque ``cursor``; no ``cursor`` ends the
listing. ``since`` is the high-water mark (``Sweep``); the page's ``cursor`` token is the
sweep's resume state, so a crash resumes mid-read.

Rate limits: ``createSession`` allows 30 calls per 5 minutes and 300 a day per account (one per
run, so schedule runs no more often than every 5 minutes); other calls 3,000 per 5 minutes per
IP. The PDS reports them in ``RateLimit-Remaining``/``RateLimit-Reset`` and answers 429 when
they are spent; the runner's transport handles the 429.
"""

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import AnyHttpUrl, Field, SecretStr, field_validator

from collectors.base import (
    CollectorConfig,
    Cursor,
    Item,
    Page,
    expect,
    json_body,
    split_entries,
)
from collectors.sweep import Sweep
from collectors.text import clean

DAY = 86_400.0
COUNTS = {
    "likeCount": "like_count",
    "repostCount": "repost_count",
    "replyCount": "reply_count",
    "quoteCount": "quote_count",
}


class BlueskyConfig(CollectorConfig):
    """What to search for on Bluesky, and the account (app password) to search with."""

    base_url: AnyHttpUrl = AnyHttpUrl("https://bsky.social")
    handle: str = Field(min_length=3, max_length=253, description="Handle, DID or account email")
    app_password: SecretStr = Field(description="An app password (Settings → App passwords)")
    query: str = Field(min_length=1, max_length=500, description="Search terms (Lucene syntax)")
    lang: str | None = Field(default=None, min_length=2, max_length=20, description="e.g. `en`")
    page_size: int = Field(default=100, ge=1, le=100, description="Posts per request")
    backfill_days: float = Field(default=30, ge=0, description="How far back a first pull goes")

    @field_validator("handle")
    @classmethod
    def _bare_handle(cls, value: str) -> str:
        """Accept ``@alice.bsky.social`` as well as ``alice.bsky.social``."""
        return value.removeprefix("@")


@dataclass
class _Session:
    """The run's tokens; ``refreshed`` keeps the renewal to one per run."""

    access: str
    refresh: str
    refreshed: bool = False

    def headers(self) -> dict[str, str]:
        """The bearer header for XRPC calls."""
        return {"Authorization": f"Bearer {self.access}"}


class BlueskyCollector:
    """Posts from Bluesky search (``app.bsky.feed.searchPosts``, newest first)."""

    kind: ClassVar[str] = "bluesky"
    title: ClassVar[str] = "Bluesky"
    Config: ClassVar[type[CollectorConfig]] = BlueskyConfig

    async def pull(
        self, client: httpx.AsyncClient, config: BlueskyConfig, cursor: Cursor | None
    ) -> AsyncIterator[Page]:
        """Posts above the last high-water mark, newest first, one page per request."""
        sweep = Sweep.start(cursor, backfill_from=time.time() - config.backfill_days * DAY)
        session = await _create_session(client, config)
        while True:
            sent = sweep.resume.get("cursor")
            body = await _search(client, config, session, since=sweep.high_water, cursor=sent)
            posts, rejected = split_entries(body["posts"], _unusable)
            # An undated post counts as at the mark: read, but it neither ends nor lifts it.
            keep, _ = sweep.fresh([_stamp(post, sweep.high_water) for post in posts])
            # The server applies `since` itself: keep all it returned (its clock for a post may
            # differ from ours), but a page wholly below the mark means it ignored the filter.
            items = [item for post in posts if (item := to_item(post)) is not None]
            token = body.get("cursor")
            if not token or str(token) == sent or (posts and not keep):
                yield Page(items, sweep.done_cursor(), rejected)
                return
            yield Page(items, sweep.page_cursor(cursor=str(token)), rejected)


def _xrpc(config: BlueskyConfig, method: str) -> str:
    return f"{str(config.base_url).rstrip('/')}/xrpc/{method}"


async def _create_session(client: httpx.AsyncClient, config: BlueskyConfig) -> _Session:
    """Log in with the app password: the tokens for this run."""
    credentials = {"identifier": config.handle, "password": config.app_password.get_secret_value()}
    url = _xrpc(config, "com.atproto.server.createSession")
    response = await client.post(url, json=credentials)
    response.raise_for_status()
    return _session_from(json_body(response))


async def _refresh_session(
    client: httpx.AsyncClient, config: BlueskyConfig, session: _Session
) -> None:
    """Swap the expired access token for a new one (the refresh token is the bearer)."""
    url = _xrpc(config, "com.atproto.server.refreshSession")
    response = await client.post(url, headers={"Authorization": f"Bearer {session.refresh}"})
    response.raise_for_status()
    fresh = _session_from(json_body(response))
    session.access, session.refresh, session.refreshed = fresh.access, fresh.refresh, True


def _session_from(body: Any) -> _Session:
    tokens_hidden = (
        {key: value for key, value in body.items() if not key.endswith("Jwt")}
        if isinstance(body, dict)
        else body
    )  # a malformed-response sample is stored and shown: never the tokens
    expect(
        isinstance(body, dict)
        and isinstance(body.get("accessJwt"), str)
        and isinstance(body.get("refreshJwt"), str),
        "expected a session with `accessJwt` and `refreshJwt`",
        tokens_hidden,
    )
    return _Session(body["accessJwt"], body["refreshJwt"])


def _expired(response: httpx.Response) -> bool:
    """Whether the call failed only because the access token expired."""
    if response.status_code not in (400, 401):
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == "ExpiredToken"


async def _search(
    client: httpx.AsyncClient,
    config: BlueskyConfig,
    session: _Session,
    *,
    since: float,
    cursor: str | None,
) -> dict[str, Any]:
    params: dict[str, str | int] = {
        "q": config.query,
        "sort": "latest",
        "since": _iso(since),
        "limit": config.page_size,
    }
    if config.lang:
        params["lang"] = config.lang
    if cursor:
        params["cursor"] = cursor
    url = _xrpc(config, "app.bsky.feed.searchPosts")
    response = await client.get(url, params=params, headers=session.headers())
    if _expired(response) and not session.refreshed:
        await _refresh_session(client, config, session)
        response = await client.get(url, params=params, headers=session.headers())
    response.raise_for_status()
    return _checked(json_body(response))


def _checked(body: Any) -> dict[str, Any]:
    """The search body, once it is known to hold a list of posts."""
    expect(
        isinstance(body, dict) and isinstance(body.get("posts"), list),
        "expected an object with a `posts` list",
        body,
    )
    return dict(body)


def _unusable(post: dict[str, Any]) -> str | None:
    uri = post.get("uri")
    usable = isinstance(uri, str) and uri.startswith("at://")
    return None if usable else "a post lacks an at:// `uri`"


def _iso(stamp: float) -> str:
    """Epoch seconds as the UTC datetime XRPC expects (milliseconds, truncated: inclusive)."""
    when = datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")
    return when.replace("+00:00", "Z")


def _object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (a field that is null or missing)."""
    return value if isinstance(value, dict) else {}


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # the spec wants a zone; UTC if none


def post_time(post: dict[str, Any]) -> datetime | None:
    """When the post was made: ``createdAt``, unless it is later than ``indexedAt``; None
    without either.

    A ``createdAt`` after the post was indexed is a client's clock error (or a backdate into
    the future); the AppView's ``sortAt``, which ``sort=latest`` and ``since`` use, takes the
    earlier of the two for the same reason.
    """
    record = _object(post.get("record"))
    created, indexed = _parse_time(record.get("createdAt")), _parse_time(post.get("indexedAt"))
    return min(created, indexed) if created and indexed else created or indexed


def _stamp(post: dict[str, Any], undated: float) -> float:
    when = post_time(post)
    return when.timestamp() if when is not None else undated


def _count(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _post_url(handle: str | None, did: str, uri: str) -> str | None:
    """The bsky.app link: by handle, or by DID when the handle does not resolve."""
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3 or parts[1] != "app.bsky.feed.post" or not parts[2]:
        return None
    who = handle if handle and handle != "handle.invalid" else did
    return f"https://bsky.app/profile/{who}/post/{parts[2]}"


def _metadata(post: dict[str, Any], record: dict[str, Any], did: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        name: count for key, name in COUNTS.items() if (count := _count(post.get(key))) is not None
    }
    metadata["did"] = did
    author = _object(post.get("author"))
    if display_name := clean(author.get("displayName")):
        metadata["display_name"] = display_name
    reply = _object(record.get("reply"))
    for part in ("parent", "root"):
        ref = reply.get(part)
        if isinstance(ref, dict) and clean(ref.get("uri")):
            metadata[f"reply_{part}"] = ref["uri"]
    labels = [label.get("val") for label in post.get("labels") or [] if isinstance(label, dict)]
    if labels := [value for value in labels if isinstance(value, str)]:
        metadata["labels"] = labels
    if cid := clean(post.get("cid")):
        metadata["cid"] = cid
    return metadata


def to_item(post: dict[str, Any]) -> Item | None:
    """A post as feedback (dated now if it has no time); None for one with no words (an image
    or a link on its own)."""
    record = _object(post.get("record"))
    text = clean(record.get("text"))
    if text is None:
        return None
    author = _object(post.get("author"))
    handle = clean(author.get("handle"))
    # The uri's authority is the author's DID: it stands in when the author view is missing.
    did = clean(author.get("did")) or post["uri"].removeprefix("at://").split("/")[0]
    langs = record.get("langs")
    langs = [langs] if isinstance(langs, str) else langs if isinstance(langs, list) else []
    return Item(
        external_id=post["uri"],
        channel="social",
        created_at=post_time(post) or datetime.now(UTC),  # undated: the read's time
        text=text,
        author=handle,
        url=_post_url(handle, did, post["uri"]),
        language=next((clean(lang) for lang in langs if clean(lang)), None),
        metadata=_metadata(post, record, did),
    )
