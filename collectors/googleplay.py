"""Google Play reviews, through the Play Store web app's unofficial ``batchexecute`` RPC.

Google offers no public reviews API for apps one does not publish; the Play Store web page (and
the ``google-play-scraper`` library, whose request shape this follows) posts
``{base_url}/_/PlayStoreUi/data/batchexecute?hl={lang}&gl={country}`` with the form field
``f.req=[[["oCPfdb", "<args as JSON>", null, "generic"]]]``, the args being
``[null, [2, sort, [count] or [count, null, token], null, [null x 9]], [app_id, 7]]`` (sort 2 is
newest first; the nine slots are filters: stars, device). The answer is ``)]}'`` and a JSON
envelope whose ``["wrb.fr", "oCPfdb", "<result as JSON>", ...]`` row carries the result as a
string: ``[reviews, [null, token], ...]``, each review a positional array (``[0]`` id, ``[1][0]``
user name, ``[2]`` stars, ``[4]`` text, ``[5][0]`` epoch seconds, ``[6]`` thumbs up, ``[7]``
developer reply, ``[10]`` app version). No token means the last page.

Reviews are read newest first down to the high-water mark (``Sweep``) with the continuation
token as the resume state. No authentication and no documented rate limit (Google answers floods
with 429, which the runner's transport waits out). The shape is unofficial and may change, so
any structural surprise is a ``MalformedResponse`` with a sample, never a guess.
"""

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import AnyHttpUrl, Field

from collectors.base import (
    CollectorConfig,
    Cursor,
    Item,
    MalformedResponse,
    Page,
    expect,
    split_entries,
)
from collectors.sweep import Sweep
from collectors.text import clean

DAY = 86_400.0
RPC_ID = "oCPfdb"
NEWEST_FIRST = 2
XSSI_PREFIX = ")]}'"  # Google's guard against the body being run as a script


class GooglePlayConfig(CollectorConfig):
    """Which app's reviews to read, in which language and storefront."""

    base_url: AnyHttpUrl = AnyHttpUrl("https://play.google.com")
    app_id: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$",
        max_length=200,
        description="The app's package name, e.g. com.example.app",
    )
    lang: str = Field(default="en", pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")
    country: str = Field(default="us", pattern=r"^[A-Za-z]{2}$")
    page_size: int = Field(default=100, ge=1, le=200)
    backfill_days: float = Field(default=30, ge=0, description="How far back a first pull goes")


class GooglePlayCollector:
    """Reviews of one Android app from Google Play, newest first."""

    kind: ClassVar[str] = "google_play"
    title: ClassVar[str] = "Google Play"
    Config: ClassVar[type[CollectorConfig]] = GooglePlayConfig

    async def pull(
        self, client: httpx.AsyncClient, config: GooglePlayConfig, cursor: Cursor | None
    ) -> AsyncIterator[Page]:
        """Reviews above the last high-water mark, newest first, one page per request."""
        sweep = Sweep.start(cursor, backfill_from=time.time() - config.backfill_days * DAY)
        while True:
            listed, token = await _fetch(client, config, sweep.resume.get("token"))
            reviews, rejected = split_entries(listed, _unusable, shape=list)
            # An undated review counts as at the mark: read, but it neither ends nor lifts it.
            stamps = [review_time(review) or sweep.high_water for review in reviews]
            keep, went_below = sweep.fresh(stamps)
            items = [
                item
                for i in keep
                if (item := to_item(reviews[i], app_id=config.app_id, lang=config.lang)) is not None
            ]
            if not listed or went_below or token is None:
                yield Page(items, sweep.done_cursor(), rejected)
                return
            yield Page(items, sweep.page_cursor(token=token), rejected)


def request_form(config: GooglePlayConfig, token: str | None) -> dict[str, str]:
    """The ``f.req`` form field asking for one page of reviews, newest first."""
    size: list[Any] = [config.page_size] if token is None else [config.page_size, None, token]
    filters = [None] * 9  # no star or device filter
    args = [None, [2, NEWEST_FIRST, size, None, filters], [config.app_id, 7]]
    return {"f.req": _compact([[[RPC_ID, _compact(args), None, "generic"]]])}


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def _fetch(
    client: httpx.AsyncClient, config: GooglePlayConfig, token: str | None
) -> tuple[list[list[Any]], str | None]:
    url = f"{str(config.base_url).rstrip('/')}/_/PlayStoreUi/data/batchexecute"
    params = {"hl": config.lang, "gl": config.country}
    response = await client.post(url, params=params, data=request_form(config, token))
    response.raise_for_status()
    return parse_response(response.text)


def parse_response(text: str) -> tuple[list[list[Any]], str | None]:
    """The reviews in a ``batchexecute`` answer and the token of the next page (None: last)."""
    row = _rpc_row(_envelope(text))
    if row[2] is None:  # no result: an app with no reviews, unless the row carries an error
        expect(len(row) < 6 or row[5] is None, f"the {RPC_ID} call answered an error", row)
        return [], None
    expect(isinstance(row[2], str), f"the {RPC_ID} result is not a JSON string", row)
    result = _json(row[2])
    expect(isinstance(result, list), f"the {RPC_ID} result is not an array", result)
    reviews = result[0] if result else None
    if reviews is None:  # no reviews (yet) in this language and storefront
        return [], None
    expect(isinstance(reviews, list), "the reviews ([0]) are not an array", result)
    return reviews, _token(result)


def _unusable(review: list[Any]) -> str | None:
    usable = bool(review) and isinstance(review[0], str) and bool(review[0])
    return None if usable else "a review lacks its id ([0])"


def _envelope(text: str) -> list[Any]:
    """The envelope's rows: one JSON array, or (the ``rt=c`` form) length-prefixed chunks."""
    body = text.lstrip()
    body = body[len(XSSI_PREFIX) :].lstrip() if body.startswith(XSSI_PREFIX) else body
    rows: list[Any] = []
    decoder, at = json.JSONDecoder(), 0
    while at < len(body):
        while at < len(body) and (body[at].isspace() or body[at].isdigit()):
            at += 1  # a chunk's byte count, or the space between chunks
        if at == len(body):
            break
        try:
            chunk, at = decoder.raw_decode(body, at)
        except ValueError as exc:
            raise MalformedResponse("the batchexecute answer is not JSON", sample=text) from exc
        expect(isinstance(chunk, list), "expected the batchexecute envelope (an array)", chunk)
        rows.extend(chunk)
    return rows


def _rpc_row(envelope: list[Any]) -> list[Any]:
    """The ``["wrb.fr", "oCPfdb", result, ...]`` row of the envelope."""
    for row in envelope:
        if isinstance(row, list) and len(row) >= 3 and row[:2] == ["wrb.fr", RPC_ID]:
            return row
    raise MalformedResponse(
        f"the batchexecute envelope has no wrb.fr row for {RPC_ID}",
        sample=json.dumps(envelope)[:2000],
    )


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise MalformedResponse(f"the {RPC_ID} result is not JSON", sample=text) from exc


def _token(result: list[Any]) -> str | None:
    """The continuation token at ``result[1][-1]``; None (the last page) when there is none."""
    paging = result[1] if len(result) > 1 else None
    if paging is None:
        return None
    expect(isinstance(paging, list), "the paging slot ([1]) is not an array", result[1:])
    token = paging[-1] if paging else None
    expect(
        token is None or isinstance(token, str), "the continuation token is not a string", paging
    )
    return token or None


def _at(value: Any, *path: int) -> Any:
    """``value[p0][p1]..``, or None where the nesting stops short (optional fields)."""
    for index in path:
        if not isinstance(value, list) or not -len(value) <= index < len(value):
            return None
        value = value[index]
    return value


def review_time(review: list[Any]) -> float | None:
    """When the review was written, in epoch seconds (``[5][0]``); None if it is missing."""
    return _epoch(_at(review, 5))


def _epoch(value: Any) -> float | None:
    """Seconds from a ``[seconds, nanos]`` pair."""
    seconds = _at(value, 0)
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return float(seconds)
    return None


def _iso(value: Any) -> str | None:
    seconds = _epoch(value)
    return datetime.fromtimestamp(seconds, UTC).isoformat() if seconds is not None else None


def to_item(review: list[Any], *, app_id: str, lang: str) -> Item | None:
    """A review as feedback (dated now if it has no time); None for one with neither words nor
    stars."""
    stars = _at(review, 2)
    score = stars if isinstance(stars, int) and not isinstance(stars, bool) else None
    score = score if score is not None and 1 <= score <= 5 else None
    text = clean(_at(review, 4))
    if text is None and score is None:
        return None
    review_id = str(review[0])
    metadata: dict[str, Any] = {
        "thumbs_up": _at(review, 6) if isinstance(_at(review, 6), int) else None,
        "app_version": clean(_at(review, 10)),
    }
    if reply := clean(_at(review, 7, 1)):
        metadata["reply"] = {"text": reply, "replied_at": _iso(_at(review, 7, 2))}
    link = f"id={quote(app_id)}&reviewId={quote(review_id, safe=':')}"
    return Item(
        external_id=review_id,
        channel="review",
        created_at=datetime.fromtimestamp(review_time(review) or time.time(), UTC),
        text=text,
        score_type="stars" if score is not None else None,
        score=score,
        author=clean(_at(review, 1, 0)),
        url=f"https://play.google.com/store/apps/details?{link}",
        language=lang,
        metadata={key: value for key, value in metadata.items() if value is not None},
    )
