"""Formbricks survey responses, pushed by a webhook to ``POST /api/v1/webhooks/{source}``.

Each event arrives as ``{webhookId, event, data}``, ``event`` one of ``responseCreated``,
``responseUpdated`` or ``responseFinished`` and ``data`` the response (``id``, ``createdAt``,
``updatedAt``, ``surveyId``, ``finished``, ``data{<questionId>: value}``, ``meta``, ``contact``,
``contactAttributes``, ``tags``, ``language``...). Formbricks' docs show the body wrapped in a
list, so a list of events is accepted too. Only finished responses are stored (half-filled ones
are acknowledged and dropped), keyed by the response ``id``, so a response is stored once however
many events name it. Auth: Standard Webhooks: ``webhook-signature`` lists ``v1,<base64
HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")>`` entries, any one matching is
enough; the key is the secret's base64 part after ``whsec_``; a ``webhook-timestamp`` more than
five minutes from now (either way) is refused, so a captured delivery cannot be replayed later.
No paging, cursor or rate limit. Formbricks' endpoint test (``{"event": "testEndpoint"}``) and
unknown events are acknowledged with nothing stored.
"""

import base64
import binascii
import contextlib
import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from collectors.base import BadSignature, Item, MalformedResponse, expect
from collectors.text import clean
from hub.scores import SCALES

SECRET_PREFIX = "whsec_"  # noqa: S105 (a format marker, not a secret)
TOLERANCE_S = 300  # how far webhook-timestamp may be from now, both ways (Standard Webhooks)
RESPONSE_EVENTS = {"responseCreated", "responseUpdated", "responseFinished"}
ScoreType = Literal["nps", "csat", "ces", "stars", "thumbs"]
# What a thumbs question that is a yes/no choice, a CTA or a consent records (lower case).
THUMBS_UP = {"yes", "up", "thumbs up", "👍", "good", "helpful", "true", "clicked", "accepted"}
THUMBS_DOWN = {"no", "down", "thumbs down", "👎", "bad", "not helpful", "false", "dismissed"}
# What CTA, consent and booking questions record: never the comment.
STATUS_ANSWERS = {"clicked", "dismissed", "accepted", "booked"}


class FormbricksConfig(BaseModel):
    """The webhook's signing secret and which question of the survey is which."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    secret: SecretStr = Field(min_length=1, description="The webhook's signing secret (whsec_...)")
    score_question: str | None = Field(default=None, description="Id of the score question")
    score_type: ScoreType | None = Field(
        default=None, description="What the score question measures (needs score_question)"
    )
    rating_range: int = Field(
        default=5,
        ge=2,
        le=10,
        description="The rating question's range (for thumbs: above its midpoint is up)",
    )
    comment_question: str | None = Field(
        default=None, description="Id of the free-text question (default: the first text answer)"
    )

    @field_validator("secret")
    @classmethod
    def _decodable(cls, secret: SecretStr) -> SecretStr:
        value = secret.get_secret_value()
        if value.startswith(SECRET_PREFIX):
            try:
                base64.b64decode(value.removeprefix(SECRET_PREFIX), validate=True)
            except binascii.Error:
                raise ValueError("a whsec_ secret must be base64 after the prefix") from None
        return secret

    @model_validator(mode="after")
    def _score_pair(self) -> "FormbricksConfig":
        if (self.score_question is None) != (self.score_type is None):
            raise ValueError("score_question and score_type go together: give both or neither")
        return self


class FormbricksCollector:
    """Finished responses to Formbricks surveys, as Formbricks' webhook delivers them."""

    kind: ClassVar[str] = "formbricks"
    title: ClassVar[str] = "Formbricks"
    Config: ClassVar[type[BaseModel]] = FormbricksConfig

    def verify(self, config: FormbricksConfig, headers: Mapping[str, str], body: bytes) -> None:
        """Raise ``BadSignature`` unless the delivery is fresh and signed with the secret."""
        message_id = _required(headers, "webhook-id")
        stamp = _required(headers, "webhook-timestamp")
        signatures = _v1_signatures(_required(headers, "webhook-signature"))
        try:
            sent = int(stamp)
        except ValueError:
            raise BadSignature(
                f"malformed webhook-timestamp header: expected unix seconds, got {stamp[:40]!r}"
            ) from None
        skew = time.time() - sent
        if abs(skew) > TOLERANCE_S:
            when = f"{int(skew)} s ago" if skew > 0 else f"{int(-skew)} s ahead"
            raise BadSignature(f"stale webhook-timestamp: {when} (tolerance {TOLERANCE_S} s)")
        signed = f"{message_id}.{stamp}.".encode() + body
        expected = [hmac.new(key, signed, hashlib.sha256).digest() for key in signing_keys(config)]
        if not any(hmac.compare_digest(g, e) for g in signatures for e in expected):
            raise BadSignature("no webhook-signature matches the body (wrong secret?)")

    def items(
        self, config: FormbricksConfig, headers: Mapping[str, str], payload: Any
    ) -> list[Item]:
        """The finished responses in a delivery; [] for partial ones and other events."""
        events = payload if isinstance(payload, list) else [payload]
        items = []
        for event in events:
            expect(
                isinstance(event, dict) and isinstance(event.get("event"), str),
                "expected a Formbricks webhook event with an `event`",
                event,
            )
            if event["event"] not in RESPONSE_EVENTS:
                continue  # testEndpoint, or an event this collector does not know
            response = event.get("data")
            expect(
                isinstance(response, dict) and _id(response.get("id")) is not None,
                f"a {event['event']} event lacks `data.id`",
                event,
            )
            if event["event"] == "responseFinished" or response.get("finished") is True:
                item = to_item(response, config)
                items += [item] if item is not None else []
        return items


def to_item(response: dict[str, Any], config: FormbricksConfig) -> Item | None:
    """A finished response as feedback (dated when it reached the hub if it has no time); None
    when it holds neither a comment nor a score."""
    answers = response.get("data") or {}
    expect(isinstance(answers, dict), "`data.data` is not an object of answers", response)
    # updatedAt of a finished response is when it was finished: what the customer said last.
    created_at = _time(response.get("updatedAt")) or _time(response.get("createdAt"))
    created_at = created_at or datetime.now(UTC)  # neither: when the delivery reached the hub
    text = _comment(answers, config)
    score = _score(answers, config)
    if text is None and score is None:
        return None
    language = clean(response.get("language"))
    return Item(
        external_id=str(_id(response["id"])),
        channel="survey",
        created_at=created_at,
        text=text,
        score_type=config.score_type if score is not None else None,
        score=score,
        language=None if language is None or language.lower() == "default" else language,
        customer=_customer(response),
        answers=answers or None,
        metadata=_metadata(response),
    )


def _comment(answers: dict[str, Any], config: FormbricksConfig) -> str | None:
    if config.comment_question:
        return clean(answers.get(config.comment_question))
    for question, value in answers.items():
        text = clean(value)
        if question != config.score_question and text and text.lower() not in STATUS_ANSWERS:
            return text
    return None


def _score(answers: dict[str, Any], config: FormbricksConfig) -> int | None:
    if config.score_question is None or config.score_type is None:
        return None
    value = answers.get(config.score_question)
    if value is None or value == "":
        return None  # the score question was skipped
    if config.score_type == "thumbs":
        return thumb(value, config.rating_range, config.score_question)
    number = _whole(value, config.score_question)
    low, high = SCALES[config.score_type].bounds
    if not low <= number <= high:
        raise MalformedResponse(
            f"the answer to {config.score_question!r} is {number}, out of range for "
            f"{config.score_type} ({low}-{high})"
        )
    return number


def thumb(value: Any, rating_range: int, question: str) -> int:
    """A thumbs score (1 up, 0 down) from a rating, a yes/no choice, a CTA or a consent.

    A rating of 1..``rating_range`` is up above the scale's midpoint (4-5 of 5, 6-10 of 10; the
    midpoint itself, 3 of 5, is down); words are looked up in ``THUMBS_UP``/``THUMBS_DOWN``.
    """
    if isinstance(value, bool):
        return int(value)
    word = value.strip().lower() if isinstance(value, str) else None
    if word in THUMBS_UP or word in THUMBS_DOWN:
        return int(word in THUMBS_UP)
    rating = _whole(value, question)
    if not 1 <= rating <= rating_range:
        raise MalformedResponse(
            f"the answer to {question!r} is {rating}, outside the rating range 1-{rating_range}"
        )
    return int(rating * 2 > rating_range + 1)


def _whole(value: Any, question: str) -> int:
    """A numeric answer as an int (ratings come as numbers, sometimes as digit strings)."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value.strip())
    elif isinstance(value, int | float) and not isinstance(value, bool) and value == int(value):
        return int(value)
    raise MalformedResponse(f"the answer to {question!r} is not a whole number: {value!r}")


def _customer(response: dict[str, Any]) -> dict[str, Any] | None:
    """Who answered, from the contact and its attributes: None for an anonymous response."""
    contact = _object(response.get("contact"))
    attributes = _object(response.get("contactAttributes"))
    ref = _id(contact.get("userId")) or _id(attributes.get("userId"))
    email = valid_email(attributes.get("email"))
    if ref is None and email is None:
        return None
    full_name = " ".join(
        part
        for part in (clean(attributes.get("firstName")), clean(attributes.get("lastName")))
        if part
    )
    name = clean(attributes.get("name")) or full_name or None
    customer = {
        "ref": ref[:255] if ref else None,  # the hub's limits: a long value must not sink it
        "email": email,
        "name": name[:200] if name else None,
    }
    return {key: value for key, value in customer.items() if value}


def _metadata(response: dict[str, Any]) -> dict[str, Any]:
    meta = _object(response.get("meta"))
    tags = [tag.get("name") if isinstance(tag, dict) else tag for tag in response.get("tags") or []]
    metadata = {
        "surveyId": _id(response.get("surveyId")),
        "surveyTitle": clean(_object(response.get("survey")).get("title")),
        "url": clean(meta.get("url")),
        "userAgent": _object(meta.get("userAgent")),
        "country": clean(meta.get("country")),
        "source": clean(meta.get("source")),
        "tags": [tag for tag in tags if isinstance(tag, str)],
        "contactId": _id(_object(response.get("contact")).get("id")),
    }
    return {key: value for key, value in metadata.items() if value not in (None, "", {}, [])}


def signing_keys(config: FormbricksConfig) -> list[bytes]:
    """The HMAC keys the secret stands for.

    ``whsec_<base64>`` is the Standard Webhooks form (Formbricks shows it so). A secret pasted
    without the prefix is tried both as base64 (what Formbricks and the Standard Webhooks
    libraries decode it as) and as the plain text.
    """
    secret = config.secret.get_secret_value()
    if secret.startswith(SECRET_PREFIX):
        return [base64.b64decode(secret.removeprefix(SECRET_PREFIX))]
    keys = [secret.encode()]
    with contextlib.suppress(binascii.Error):  # not base64: only the plain text can be the key
        keys.append(base64.b64decode(secret, validate=True))
    return keys


def _v1_signatures(value: str) -> list[bytes]:
    """The ``v1`` signatures of a ``webhook-signature`` header (other versions are skipped)."""
    signatures = []
    for entry in value.split():
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            signatures.append(base64.b64decode(encoded, validate=True))
        except binascii.Error:
            continue
    if not signatures:
        raise BadSignature("malformed webhook-signature header: no v1,<base64> entry")
    return signatures


def _required(headers: Mapping[str, str], name: str) -> str:
    value = header(headers, name)
    if value is None or not value.strip():
        raise BadSignature(f"missing {name} header")
    return value.strip()


def _object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (optional parts come as null)."""
    return value if isinstance(value, dict) else {}


def _id(value: Any) -> str | None:
    """An identifier as text: numbers are accepted, blanks and other types are not."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return clean(value)


def _time(value: Any) -> datetime | None:
    """An ISO 8601 time (naive ones are UTC), or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def valid_email(value: Any) -> str | None:
    """``value`` if it is an address the hub accepts; a bad one must not sink the delivery."""
    text = clean(value)
    if text is None:
        return None
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever the case of its name (the hub's mapping ignores case already)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value
