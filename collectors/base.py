"""The collector contract: what a source module provides and what it yields.

A pull collector gets an ``httpx.AsyncClient`` (the runner's: retries, rate limits and timeouts
live in its transport), its validated config and the cursor it returned last time, and yields
pages. A page's cursor is stored only once the page's items are committed, so a crash re-reads a
page at worst (and the idempotent store drops the repeat). An inbound collector verifies and
maps webhook deliveries instead. Neither ever touches the database.
"""

import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

import httpx
from pydantic import AnyHttpUrl, BaseModel, ConfigDict

Cursor = dict[str, Any]


@dataclass(slots=True)
class Item:
    """One piece of feedback, normalised: the fields of the hub's ingest schema.

    ``external_id`` is the source's own id (the idempotency key within the source).
    ``language`` is what the source claims, if anything; it is kept as a hint in metadata.
    ``answers`` holds every answer of a survey response, by question.
    """

    external_id: str
    channel: str
    created_at: datetime
    text: str | None = None
    title: str | None = None
    score_type: str | None = None
    score: int | None = None
    author: str | None = None
    url: str | None = None
    language: str | None = None
    customer: dict[str, Any] | None = None
    answers: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Page:
    """Items from one response and the cursor to resume from once they are stored.

    ``rejected`` says why each entry of the response that cannot be used at all (no id, say)
    was left out: one such entry never costs the page its good items.
    """

    items: list[Item]
    cursor: Cursor
    rejected: list[str] = field(default_factory=list)


class CollectorConfig(BaseModel):
    """Base of every collector's config: unknown keys are refused, the base URL is settable."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    base_url: AnyHttpUrl


class MalformedResponse(Exception):
    """The source answered with a body that is not in the documented shape."""

    def __init__(self, message: str, *, sample: str | bytes = "") -> None:
        super().__init__(message)
        text = sample.decode("utf-8", "replace") if isinstance(sample, bytes) else sample
        self.sample = text[:2000]


@runtime_checkable
class PullCollector(Protocol):
    """A source the hub polls on a schedule."""

    kind: ClassVar[str]
    title: ClassVar[str]
    Config: ClassVar[type[CollectorConfig]]

    def pull(
        self, client: httpx.AsyncClient, config: Any, cursor: Cursor | None
    ) -> AsyncIterator[Page]:
        """Pages of items newer than ``cursor`` (``None``: a first pull), oldest cursor first."""
        ...


@runtime_checkable
class InboundCollector(Protocol):
    """A source that pushes to the hub (webhooks): verify a delivery, then map it."""

    kind: ClassVar[str]
    title: ClassVar[str]
    Config: ClassVar[type[BaseModel]]

    def verify(self, config: Any, headers: Mapping[str, str], body: bytes) -> None:
        """Raise ``BadSignature`` unless the delivery is authentic (and fresh)."""
        ...

    def items(self, config: Any, headers: Mapping[str, str], payload: Any) -> list[Item]:
        """The feedback in a verified delivery; raises ``MalformedResponse`` when it has none."""
        ...


class BadSignature(Exception):
    """A webhook delivery whose signature or timestamp does not check out."""


def json_body(response: httpx.Response) -> Any:
    """The response's JSON, or ``MalformedResponse`` with a sample of what came instead."""
    try:
        return response.json()
    except ValueError as exc:
        raise MalformedResponse(
            f"expected JSON from {response.request.url.path}, got "
            f"{response.headers.get('content-type', 'no content type')}",
            sample=response.content,
        ) from exc


def expect(condition: bool, message: str, body: Any) -> None:
    """Raise ``MalformedResponse`` with a sample of ``body`` unless ``condition`` holds."""
    if not condition:
        raise MalformedResponse(message, sample=json.dumps(body, default=str)[:2000])


def split_entries(
    entries: list[Any], problem: Callable[[Any], str | None], *, shape: type = dict
) -> tuple[list[Any], list[str]]:
    """The entries (JSON objects, or arrays with ``shape=list``) in which ``problem`` finds
    nothing wrong, and why each other one is left out (with a sample): an entry that cannot be
    used is rejected alone, never its page."""
    usable, rejected = [], []
    for entry in entries:
        wrong_shape = "not an object" if shape is dict else "not an array"
        reason = problem(entry) if isinstance(entry, shape) else wrong_shape
        if reason is None:
            usable.append(entry)
        else:
            rejected.append(f"{reason}: {json.dumps(entry, default=str)[:200]}")
    return usable, rejected
