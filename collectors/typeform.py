"""Typeform responses, pushed by a Typeform webhook to ``POST /api/v1/webhooks/{source}``.

Each submitted response arrives as ``{event_id, event_type: "form_response", form_response{
form_id, token, landed_at, submitted_at, hidden, calculated, variables, definition{id, title,
fields}, answers[{type, <type>: value, field{id, type, ref}}], ending}}``. Auth: the webhook's
secret signs the raw body, ``Typeform-Signature: sha256=<base64 HMAC-SHA256(secret, body)>``; the
signature carries no timestamp, so a replayed genuine delivery is caught by idempotency instead:
the response ``token`` is the external id and stays the same when Typeform retries a failed
delivery (``event_id`` is per delivery). No paging, cursor or rate limit: one delivery holds one
response. Other event types (``form_response_partial``) are acknowledged and dropped.
"""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from collectors.base import BadSignature, Item, MalformedResponse, expect
from collectors.text import clean
from hub.scores import SCALES

SIGNATURE_HEADER = "Typeform-Signature"
ScoreType = Literal["nps", "csat", "ces", "stars", "thumbs"]
# A score field's type says what it measures when score_type is not set (see _score_type).
SCORE_TYPE_OF_FIELD: dict[str, ScoreType] = {"nps": "nps", "rating": "stars", "yes_no": "thumbs"}


class TypeformConfig(BaseModel):
    """The webhook's secret and which question of the form is which."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    secret: SecretStr = Field(min_length=1, description="The webhook's signing secret")
    score_field: str | None = Field(
        default=None,
        description="Ref or id of the nps/opinion_scale/rating/yes_no field (default: the first "
        "nps field)",
    )
    score_type: ScoreType | None = Field(
        default=None,
        description="What the score measures (default: nps for an nps field or a 0-10 "
        "opinion_scale, stars for a rating, thumbs for yes_no)",
    )
    comment_field: str | None = Field(
        default=None, description="Ref or id of the free-text answer (default: first long_text)"
    )
    email_field: str | None = Field(
        default=None, description="Ref or id of an email answer (default: hidden field `email`)"
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer, reduced to its field and a plain value."""

    field_id: str
    ref: str | None
    field_type: str | None
    value: Any

    @property
    def key(self) -> str:
        """The field's ref (readable, stable across form edits) or else its id."""
        return self.ref or self.field_id

    def is_for(self, name: str) -> bool:
        """Whether this answers the field named ``name`` (its ref or its id)."""
        return name in (self.ref, self.field_id)


class TypeformCollector:
    """Responses to a typeform, as Typeform's webhook delivers them."""

    kind: ClassVar[str] = "typeform"
    title: ClassVar[str] = "Typeform"
    Config: ClassVar[type[BaseModel]] = TypeformConfig

    def verify(self, config: TypeformConfig, headers: Mapping[str, str], body: bytes) -> None:
        """Raise ``BadSignature`` unless ``Typeform-Signature`` signs ``body`` with the secret."""
        value = header(headers, SIGNATURE_HEADER)
        if value is None:
            raise BadSignature(f"missing {SIGNATURE_HEADER} header")
        scheme, _, encoded = value.strip().partition("=")
        if scheme != "sha256" or not encoded:
            raise BadSignature(f"malformed {SIGNATURE_HEADER} header: expected sha256=<base64>")
        try:
            given = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise BadSignature(f"malformed {SIGNATURE_HEADER} header: not base64") from None
        key = config.secret.get_secret_value().encode()
        expected = hmac.new(key, body, hashlib.sha256).digest()
        if not hmac.compare_digest(given, expected):
            raise BadSignature(f"{SIGNATURE_HEADER} does not match the body (wrong secret?)")

    def items(self, config: TypeformConfig, headers: Mapping[str, str], payload: Any) -> list[Item]:
        """The response in a ``form_response`` event; [] for other events and empty responses."""
        expect(
            isinstance(payload, dict) and isinstance(payload.get("event_type"), str),
            "expected a Typeform webhook event with an `event_type`",
            payload,
        )
        if payload["event_type"] != "form_response":
            return []
        response = payload.get("form_response")
        expect(
            isinstance(response, dict) and _id(response.get("token")) is not None,
            "a form_response event lacks `form_response.token`",
            payload,
        )
        item = to_item(response, config)
        return [item] if item is not None else []


def to_item(response: dict[str, Any], config: TypeformConfig) -> Item | None:
    """A response as feedback (dated when it reached the hub if it has no time); None when it
    holds neither a comment nor a score."""
    answers = parse_answers(response)
    # Without `submitted_at`, when the form was opened; without that, when it reached the hub.
    created_at = _time(response.get("submitted_at")) or _time(response.get("landed_at"))
    created_at = created_at or datetime.now(UTC)
    text = _comment(answers, config)
    score = _score(answers, _fields(response), config)
    if text is None and score is None:
        return None
    return Item(
        external_id=str(_id(response["token"])),
        channel="survey",
        created_at=created_at,
        text=text,
        score_type=score[0] if score else None,
        score=score[1] if score else None,
        customer=_customer(_hidden(response), answers, config),
        answers={a.key: a.value for a in answers if a.value is not None} or None,
        metadata=_metadata(response),
    )


def parse_answers(response: dict[str, Any]) -> list[Answer]:
    """The response's answers in form order (a skipped question has none; an answer that names
    no field is left out)."""
    raw = response.get("answers") or []
    expect(isinstance(raw, list), "`form_response.answers` is not a list", response)
    answers = []
    for answer in raw:
        field = _object(answer.get("field")) if isinstance(answer, dict) else {}
        field_id = _id(field.get("id")) or _id(field.get("ref"))
        if field_id is None:  # no question to file it under: the other answers still count
            continue
        ref, field_type = clean(field.get("ref")), clean(field.get("type"))
        answers.append(Answer(str(field_id), ref, field_type, answer_value(answer)))
    return answers


def answer_value(answer: dict[str, Any]) -> Any:
    """The value an answer holds under its ``type`` key; choices as their labels."""
    kind = answer.get("type")
    value = answer.get(kind) if isinstance(kind, str) else None
    if kind == "choice" and isinstance(value, dict):
        return clean(value.get("other")) or clean(value.get("label"))
    if kind == "choices" and isinstance(value, dict):
        labels = [label for label in value.get("labels") or [] if isinstance(label, str)]
        other = clean(value.get("other"))
        return [*labels, other] if other else labels
    return value


def _comment(answers: list[Answer], config: TypeformConfig) -> str | None:
    if config.comment_field:
        answer = _find(answers, config.comment_field)
    else:
        answer = next((a for a in answers if a.field_type == "long_text"), None)
    return clean(answer.value) if answer else None


def _score(
    answers: list[Answer], fields: dict[str, dict[str, Any]], config: TypeformConfig
) -> tuple[str, int] | None:
    if config.score_field:
        answer = _find(answers, config.score_field)
    else:
        answer = next((a for a in answers if a.field_type == "nps"), None)
    if answer is None or answer.value is None:
        return None  # the score question was skipped
    score_type = config.score_type or _score_type(answer, fields.get(answer.field_id, {}))
    return score_type, checked_score(answer.value, score_type, answer.key)


def _score_type(answer: Answer, field: dict[str, Any]) -> str:
    """What the score field measures, from its type, when the config does not say."""
    if answer.field_type in SCORE_TYPE_OF_FIELD:
        return SCORE_TYPE_OF_FIELD[answer.field_type]
    properties = _object(field.get("properties"))
    if (
        answer.field_type == "opinion_scale"
        and properties.get("steps") == 11
        and not properties.get("start_at_one")
    ):
        return "nps"  # a 0-10 opinion scale is how many forms ask the NPS question
    raise MalformedResponse(
        f"cannot tell what the {answer.field_type} field {answer.key!r} measures: set score_type"
    )


def checked_score(value: Any, score_type: str, key: str) -> int:
    """``value`` as a score of ``score_type``, or ``MalformedResponse`` when it does not fit."""
    if score_type == "thumbs" and isinstance(value, bool):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise MalformedResponse(f"the answer to {key!r} is not a whole number: {value!r}")
    low, high = SCALES[score_type].bounds
    if not low <= value <= high:
        raise MalformedResponse(
            f"the answer to {key!r} is {value}, out of range for {score_type} ({low}-{high})"
        )
    return int(value)


def _customer(
    hidden: dict[str, Any], answers: list[Answer], config: TypeformConfig
) -> dict[str, Any] | None:
    """Who answered, from hidden fields (and an email answer): None when nobody is named."""
    answered = _find(answers, config.email_field) if config.email_field else None
    email = valid_email(answered.value if answered else None) or valid_email(hidden.get("email"))
    ref = _id(hidden.get("user_id")) or _id(hidden.get("customer_id"))
    if ref is None and email is None:
        return None
    name = clean(hidden.get("name"))
    customer = {
        "ref": ref[:255] if ref else None,  # the hub's limits: a long value must not sink it
        "email": email,
        "name": name[:200] if name else None,
    }
    return {key: value for key, value in customer.items() if value}


def _metadata(response: dict[str, Any]) -> dict[str, Any]:
    definition = _object(response.get("definition"))
    ending = _object(response.get("ending"))
    variables = {
        variable["key"]: variable.get(variable.get("type"))
        for variable in response.get("variables") or []
        if isinstance(variable, dict) and isinstance(variable.get("key"), str)
    }
    metadata = {
        "form_id": _id(response.get("form_id")) or _id(definition.get("id")),
        "form_title": clean(definition.get("title")),
        "hidden": _hidden(response),
        "landed_at": response.get("landed_at"),
        "calculated_score": _object(response.get("calculated")).get("score"),
        "variables": variables,
        "ending": _id(ending.get("ref")) or _id(ending.get("id")),
    }
    return {key: value for key, value in metadata.items() if value not in (None, "", {}, [])}


def _fields(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The form's field definitions, by field id."""
    fields = _object(response.get("definition")).get("fields") or []
    return {
        str(field["id"]): field
        for field in fields
        if isinstance(field, dict) and field.get("id") is not None
    }


def _find(answers: list[Answer], name: str) -> Answer | None:
    return next((answer for answer in answers if answer.is_for(name)), None)


def _hidden(response: dict[str, Any]) -> dict[str, Any]:
    return _object(response.get("hidden"))


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
