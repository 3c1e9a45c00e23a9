"""Trustpilot service reviews of one business unit, through the public Business Units API.

``GET {base_url}/v1/business-units/{business_unit_id}/reviews`` with ``page``, ``perPage``,
``orderBy=createdat.desc`` and ``language`` returns reviews newest first, at most 100 a page,
pages numbered from 1; a ``links`` entry with ``rel: "next-page"`` says another page follows.
The read sweeps down to the last high-water mark (``Sweep``; the page number is its resume
state, so a crash resumes mid-read). Reviews posted meanwhile push older ones down a page, which
re-reads a few; one removed meanwhile pulls them up, which can carry one past the read unseen
(page numbers have no better anchor).

Auth: the API key goes in the ``apikey`` header, which Trustpilot accepts as well as the
``apikey`` query parameter, so the key never appears in a URL (httpx logs URLs, and a failed
run's error names the URL it called).

Rate limits: 833 calls per 5 minutes and 10,000 per hour per key; a spent budget answers 429,
which the runner's transport waits out.
"""

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import AnyHttpUrl, Field, SecretStr

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


class TrustpilotConfig(CollectorConfig):
    """Which business unit's reviews to read, and the API key to read them with."""

    base_url: AnyHttpUrl = AnyHttpUrl("https://api.trustpilot.com")
    business_unit_id: str = Field(
        pattern=r"^[A-Za-z0-9]{1,64}$", description="The business unit's id (24 hex digits)"
    )
    api_key: SecretStr = Field(description="The application's API key")
    per_page: int = Field(default=100, ge=1, le=100, description="Reviews per request")
    language: str = Field(
        default="all", pattern=r"^[A-Za-z-]{2,10}$", description="`all`, or a code like `da`"
    )
    backfill_days: float = Field(default=90, ge=0, description="How far back a first pull goes")


class TrustpilotCollector:
    """Service reviews from Trustpilot (business unit reviews, newest first)."""

    kind: ClassVar[str] = "trustpilot"
    title: ClassVar[str] = "Trustpilot"
    Config: ClassVar[type[CollectorConfig]] = TrustpilotConfig

    async def pull(
        self, client: httpx.AsyncClient, config: TrustpilotConfig, cursor: Cursor | None
    ) -> AsyncIterator[Page]:
        """Reviews above the last high-water mark, newest first, one page per request."""
        sweep = Sweep.start(cursor, backfill_from=time.time() - config.backfill_days * DAY)
        while True:
            page = int(sweep.resume.get("page", 1))
            body = await _reviews(client, config, page)
            reviews, rejected = split_entries(body["reviews"], _unusable)
            # An undated review counts as at the mark: read, but it neither ends nor lifts it.
            stamps = [_stamp(review, sweep.high_water) for review in reviews]
            keep, below = sweep.fresh(stamps)
            items = [item for i in keep if (item := to_item(reviews[i])) is not None]
            if below or not _has_next(body, config.per_page):
                yield Page(items, sweep.done_cursor(), rejected)
                return
            yield Page(items, sweep.page_cursor(page=page + 1), rejected)


async def _reviews(
    client: httpx.AsyncClient, config: TrustpilotConfig, page: int
) -> dict[str, Any]:
    params: dict[str, str | int] = {
        "page": page,
        "perPage": config.per_page,
        "orderBy": "createdat.desc",
        "language": config.language,
    }
    base = str(config.base_url).rstrip("/")
    url = f"{base}/v1/business-units/{config.business_unit_id}/reviews"
    headers = {"apikey": config.api_key.get_secret_value()}
    response = await client.get(url, params=params, headers=headers)
    response.raise_for_status()
    body = json_body(response)
    expect(
        isinstance(body, dict) and isinstance(body.get("reviews"), list),
        "expected an object with a `reviews` list",
        body,
    )
    return dict(body)


def _unusable(review: dict[str, Any]) -> str | None:
    usable = isinstance(review.get("id"), str | int) and bool(review["id"])
    return None if usable else "a review lacks an `id`"


def _has_next(body: dict[str, Any], per_page: int) -> bool:
    """Whether a page follows: a ``next-page`` link, or (with no links at all) a full page."""
    if not body["reviews"]:
        return False
    links = body.get("links")
    if isinstance(links, dict):
        links = [links]
    if not isinstance(links, list):
        return len(body["reviews"]) >= per_page
    return any(isinstance(link, dict) and link.get("rel") == "next-page" for link in links)


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
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # Trustpilot's times are UTC


def created_at(review: dict[str, Any]) -> datetime:
    """When the review was posted: ``createdAt``; without one (real feeds omit it now and then)
    ``updatedAt``, else ``experiencedAt``, else now (the read's time)."""
    for key in ("createdAt", "updatedAt", "experiencedAt"):
        if (when := _parse_time(review.get(key))) is not None:
            return when
    return datetime.now(UTC)


def _stamp(review: dict[str, Any], undated: float) -> float:
    when = _parse_time(review.get("createdAt"))
    return when.timestamp() if when is not None else undated


def _stars(review: dict[str, Any]) -> int | None:
    """The 1 to 5 rating (a number, or one as a string); None for anything else (0, missing)."""
    value = review.get("stars")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        stars = float(value)
    except ValueError:
        return None
    return int(stars) if stars.is_integer() and 1 <= stars <= 5 else None


def _reply(review: dict[str, Any]) -> dict[str, Any] | None:
    """The business's public answer: ``companyReply{text}``, or ``reply{message}``."""
    for key, field in (("companyReply", "text"), ("reply", "message")):
        reply = review.get(key)
        if isinstance(reply, dict) and (message := clean(reply.get(field))):
            answer = {"message": message, "created_at": reply.get("createdAt")}
            if reply.get("updatedAt"):
                answer["updated_at"] = reply["updatedAt"]
            return answer
    return None


def _metadata(review: dict[str, Any]) -> dict[str, Any]:
    consumer = _object(review.get("consumer"))
    location = review.get("location")
    fields = {
        "reply": _reply(review),
        "verified": review.get("isVerified"),
        "location": clean(location.get("name") if isinstance(location, dict) else location),
        # An order or customer number the business attached: it links a review to an order.
        "reference_id": clean(review.get("referenceId")),
        "consumer_id": clean(consumer.get("id")),
        "consumer_location": clean(consumer.get("displayLocation")),
        "consumer_reviews": consumer.get("numberOfReviews"),
        "status": clean(review.get("status")),
        "experienced_at": review.get("experiencedAt"),
        "updated_at": review.get("updatedAt"),
        "counts_towards_trust_score": review.get("countsTowardsTrustScore"),
        "verification_level": clean(review.get("reviewVerificationLevel")),
        "likes": review.get("numberOfLikes"),
    }
    return {key: value for key, value in fields.items() if value is not None}


def to_item(review: dict[str, Any]) -> Item | None:
    """A review as feedback; None for one with no words and no rating left."""
    text, title, stars = clean(review.get("text")), clean(review.get("title")), _stars(review)
    if text is None and title is None and stars is None:
        return None
    consumer = _object(review.get("consumer"))
    review_id = str(review["id"])
    return Item(
        external_id=review_id,
        channel="review",
        created_at=created_at(review),
        text=text,
        title=title,
        score_type="stars" if stars is not None else None,
        score=stars,
        author=clean(consumer.get("displayName")),
        url=f"https://www.trustpilot.com/reviews/{review_id}",
        language=clean(review.get("language")),
        customer=None,  # Trustpilot's consumers are the public, not the hub's customers
        metadata=_metadata(review),
    )
