"""Intercom conversation ratings (CSAT 1-5 and the customer's remark), oldest update first.

``POST {base_url}/conversations/search`` with a query on ``updated_at > T`` (and, by default,
``conversation_rating.score IN [1..5]``), sorted ascending by ``updated_at``, paged with
``pagination{per_page<=150, starting_after}``; the answer's ``pages.next.starting_after`` leads
on. Bearer access token, ``Intercom-Version`` header; regional workspaces use
``https://api.eu.intercom.io`` or ``https://api.au.intercom.io`` as the base URL. While a read
goes on, the cursor keeps its ``updated_after`` and the ``starting_after`` token; once there is
no next page, the next read starts a second before the newest ``updated_at`` seen (the search
documents ``>`` as "greater or equal", so either reading re-reads the boundary, never skips it).
A conversation updated after it was rated comes again under the same id: a duplicate. Rate
limits (``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` as unix time)
are honoured by the runner's transport.
"""

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx
from email_validator import EmailNotValidError, validate_email
from pydantic import AnyHttpUrl, Field, SecretStr

from collectors.base import CollectorConfig, Cursor, Item, Page, expect, json_body, split_entries
from collectors.text import clean

DAY = 86_400.0
PEOPLE = {"user", "lead", "contact"}  # source authors that are customers, not teammates or bots


class IntercomConfig(CollectorConfig):
    """Which Intercom workspace to read and how far back."""

    base_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://api.intercom.io"),
        description="https://api.intercom.io, or https://api.eu.intercom.io / api.au.intercom.io",
    )
    access_token: SecretStr = Field(min_length=1, description="An access token of your app")
    api_version: str = Field(default="2.11", pattern=r"^(\d+\.\d+|Unstable)$")
    rated_only: bool = Field(default=True, description="Search only conversations with a rating")
    page_size: int = Field(default=150, ge=1, le=150)
    backfill_days: float = Field(default=30, ge=0, description="How far back a first pull goes")


@dataclass
class _Read:
    """One oldest-first read: its fixed ``updated_after``, the newest stamp seen, its token."""

    updated_after: int
    newest: float
    starting_after: str | None

    @classmethod
    def start(cls, cursor: Cursor | None, *, backfill_from: float) -> "_Read":
        cursor = cursor or {}
        after = int(cursor.get("updated_after", backfill_from))
        return cls(after, float(cursor.get("newest", after)), cursor.get("starting_after"))

    def page_cursor(self, starting_after: str) -> Cursor:
        """The cursor after a page when the read goes on from ``starting_after``."""
        self.starting_after = starting_after
        return {
            "updated_after": self.updated_after,
            "newest": self.newest,
            "starting_after": starting_after,
        }

    def done_cursor(self) -> Cursor:
        """The cursor once the search is exhausted: the next read starts at the newest stamp."""
        return {"updated_after": max(self.updated_after, int(self.newest) - 1)}


class IntercomCollector:
    """Conversation ratings from Intercom (``POST /conversations/search``)."""

    kind: ClassVar[str] = "intercom"
    title: ClassVar[str] = "Intercom ratings"
    Config: ClassVar[type[CollectorConfig]] = IntercomConfig

    async def pull(
        self, client: httpx.AsyncClient, config: IntercomConfig, cursor: Cursor | None
    ) -> AsyncIterator[Page]:
        """Rated conversations updated since the cursor, oldest update first, a page a request."""
        read = _Read.start(cursor, backfill_from=time.time() - config.backfill_days * DAY)
        while True:
            body = await self._search(client, config, read)
            conversations, rejected = split_entries(body["conversations"], _unusable)
            # An undated conversation leaves the mark where it is.
            read.newest = max([read.newest, *(_updated(c) or read.newest for c in conversations)])
            items = [item for c in conversations if (item := to_item(c)) is not None]
            token = next_token(body)
            if token is None:
                yield Page(items, read.done_cursor(), rejected)
                return
            expect(token != read.starting_after, "`starting_after` did not move on", body["pages"])
            yield Page(items, read.page_cursor(token), rejected)

    @staticmethod
    async def _search(
        client: httpx.AsyncClient, config: IntercomConfig, read: _Read
    ) -> dict[str, Any]:
        url = f"{str(config.base_url).rstrip('/')}/conversations/search"
        headers = {
            "Authorization": f"Bearer {config.access_token.get_secret_value()}",
            "Intercom-Version": config.api_version,
            "Accept": "application/json",
        }
        response = await client.post(url, json=search_body(config, read), headers=headers)
        response.raise_for_status()
        return checked(json_body(response))


def search_body(config: IntercomConfig, read: _Read) -> dict[str, Any]:
    """The search request: the update window, the rating filter, the sort and the page."""
    updated: dict[str, Any] = {"field": "updated_at", "operator": ">", "value": read.updated_after}
    query = updated
    if config.rated_only:  # Intercom has no "exists": a score in 1..5 is what a rating has
        rated = {"field": "conversation_rating.score", "operator": "IN", "value": [1, 2, 3, 4, 5]}
        query = {"operator": "AND", "value": [updated, rated]}
    pagination: dict[str, Any] = {"per_page": config.page_size}
    if read.starting_after:
        pagination["starting_after"] = read.starting_after
    return {
        "query": query,
        "sort": {"field": "updated_at", "order": "ascending"},
        "pagination": pagination,
    }


def checked(body: Any) -> dict[str, Any]:
    """``body`` if it is a conversation list."""
    expect(
        isinstance(body, dict) and isinstance(body.get("conversations"), list),
        "expected an object with a `conversations` list",
        body,
    )
    return dict(body)


def _unusable(conversation: dict[str, Any]) -> str | None:
    return "a conversation lacks `id`" if conversation.get("id") in (None, "") else None


def next_token(body: dict[str, Any]) -> str | None:
    """``pages.next.starting_after`` (or the token in a ``next`` URL); None on the last page."""
    pages = body.get("pages")
    following = pages.get("next") if isinstance(pages, dict) else None
    if not following:
        return None
    if isinstance(following, str):  # older versions give the next page as a URL
        values = parse_qs(urlsplit(following).query).get("starting_after")
        token = values[0] if values else None
    else:
        token = clean(following.get("starting_after")) if isinstance(following, dict) else None
    expect(token is not None, "`pages.next` carries no `starting_after`", pages)
    return token


def _number(value: Any) -> float | None:
    """A unix time that may come as a number or a numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _updated(conversation: dict[str, Any]) -> float | None:
    return _number(conversation.get("updated_at"))


def _score(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number.is_integer() and 1 <= number <= 5 else None


def to_item(conversation: dict[str, Any]) -> Item | None:
    """A conversation's rating as CSAT feedback; None when unrated (or rated with nothing)."""
    rating = conversation.get("conversation_rating")
    if not isinstance(rating, dict):
        return None
    score = _score(rating.get("rating"))
    remark = clean(rating.get("remark"))
    if score is None and remark is None:
        return None
    # When it was rated; else when the conversation last changed; else now (the read's time).
    when = _number(rating.get("created_at")) or _updated(conversation) or time.time()
    return Item(
        external_id=f"{conversation['id']}:rating",
        channel="rating",
        created_at=datetime.fromtimestamp(when, UTC),
        text=remark,
        score_type="csat" if score is not None else None,
        score=score,
        customer=_customer(conversation, rating),
        metadata=_metadata(conversation, rating),
    )


def _contact_id(conversation: dict[str, Any], rating: dict[str, Any]) -> str | None:
    """The rating's contact, else the conversation's first contact."""
    contact = rating.get("contact")
    if isinstance(contact, dict) and contact.get("id") not in (None, ""):
        return str(contact["id"])
    contacts = conversation.get("contacts")
    listed = contacts.get("contacts") if isinstance(contacts, dict) else contacts
    if isinstance(listed, dict):  # a single contact instead of a list
        listed = [listed]
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, dict) and entry.get("id") not in (None, ""):
            return str(entry["id"])
    return None


def _customer(conversation: dict[str, Any], rating: dict[str, Any]) -> dict[str, Any] | None:
    contact_id = _contact_id(conversation, rating)
    customer: dict[str, Any] = {"ref": f"intercom:{contact_id}"} if contact_id else {}
    source = conversation.get("source")
    author = source.get("author") if isinstance(source, dict) else None
    if isinstance(author, dict) and author.get("type") in PEOPLE:
        same_person = contact_id is None or str(author.get("id") or contact_id) == contact_id
        email = _email(author.get("email"))
        if same_person and email:
            customer["email"] = email
            if clean(author.get("name")):
                customer["name"] = clean(author.get("name"))
    return customer or None


def _email(value: Any) -> str | None:
    """An address the hub will accept (the same check as its ingest), else None."""
    address = clean(value)
    if address is None:
        return None
    try:
        return str(validate_email(address, check_deliverability=False).normalized.lower())
    except EmailNotValidError:
        return None  # a malformed address must not cost the rating


def _metadata(conversation: dict[str, Any], rating: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"conversation_id": str(conversation["id"])}
    teammate = rating.get("teammate")
    if isinstance(teammate, dict) and teammate.get("id") not in (None, ""):
        metadata["teammate_id"] = str(teammate["id"])
    tags = conversation.get("tags")
    listed = tags.get("tags") if isinstance(tags, dict) else tags
    names = [
        clean(tag.get("name")) if isinstance(tag, dict) else clean(tag)
        for tag in (listed if isinstance(listed, list) else [])
    ]
    if any(names):
        metadata["tags"] = [name for name in names if name]
    source = conversation.get("source")
    if isinstance(source, dict):
        for key, name in (("type", "source_type"), ("url", "source_url")):
            if clean(source.get(key)):
                metadata[name] = clean(source.get(key))
    return metadata
