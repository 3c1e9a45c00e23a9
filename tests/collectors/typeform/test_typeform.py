"""Typeform webhooks: the recorded delivery, signatures, score mapping, and the webhook contract."""

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from collectors.base import BadSignature, MalformedResponse
from collectors.typeform import TypeformCollector, TypeformConfig
from hub.feedback.models import Feedback
from tests.collectors.webhook_contract import WHEN, WebhookContract
from tests.conftest import Database

RECORDED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "form_response.json").read_text("utf-8")
)
SECRET = "Zk3vQ9mH2pLx7TcW"
COLLECTOR = TypeformCollector()


def signature(body: bytes, secret: str = SECRET) -> str:
    """``Typeform-Signature`` as Typeform computes it: base64 of HMAC-SHA256 of the raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def config(**changes: Any) -> TypeformConfig:
    return TypeformConfig.model_validate({"secret": SECRET, **changes})


def delivery(**changes: Any) -> dict[str, Any]:
    """The recorded delivery with ``form_response`` fields replaced."""
    event = copy.deepcopy(RECORDED)
    event["form_response"].update(changes)
    return event


def answers_without(*refs: str) -> list[dict[str, Any]]:
    answers = RECORDED["form_response"]["answers"]
    return [copy.deepcopy(a) for a in answers if a["field"].get("ref") not in refs]


class TestTypeformContract(WebhookContract):
    kind = "typeform"

    def config(self) -> dict[str, Any]:
        return {"secret": SECRET}

    def payload(self, n: int, text: str, when: datetime) -> dict[str, Any]:
        event = copy.deepcopy(RECORDED)
        event["event_id"] = f"01JDQ3M7T2K9V4XG6B8W{n:06d}"
        response = event["form_response"]
        response["token"] = f"tok{n:04d}x7q1w9nhd3ylb0k2x7q1w9"
        response["landed_at"] = iso(when - timedelta(minutes=3))
        response["submitted_at"] = iso(when)
        answers = []
        for answer in response["answers"]:
            ref = answer["field"].get("ref")
            if ref == "nps":
                answer["number"] = n % 11
            elif ref == "what_happened":
                if not text:
                    continue  # Typeform sends no answer for a skipped question
                answer["text"] = text
            answers.append(answer)
        response["answers"] = answers
        return event

    def sign(self, body: bytes, *, n: int = 0) -> dict[str, str]:
        return {"Typeform-Signature": signature(body)}

    def record_id(self, n: int) -> str:
        return f"tok{n:04d}x7q1w9nhd3ylb0k2x7q1w9"

    def check_item(self, stored: Feedback, n: int, text: str) -> None:
        assert stored.channel == "survey"
        assert (stored.score_type, stored.score) == ("nps", n % 11)
        assert stored.created_at == WHEN
        assert stored.customer_id is not None
        assert stored.meta is not None
        assert stored.meta["form_id"] == "rXb9q2Lk"
        assert stored.meta["hidden"]["user_id"] == "cus_48213"
        assert stored.answers is not None and stored.answers["what_happened"] == text

    def test_another_event_type_is_acknowledged(
        self, hub: TestClient, collector_db: Database
    ) -> None:
        event = self.payload(7, "Half way through", WHEN)
        event["event_type"] = "form_response_partial"
        body = json.dumps(event).encode()
        response = self.post(hub, body, self.sign(body))
        assert response.status_code == 200, response.text
        assert response.json()["created"] == 0
        assert self.stored(collector_db) == []

    def test_a_wrong_secret_is_refused(self, hub: TestClient, collector_db: Database) -> None:
        body = json.dumps(self.payload(8, "Signed by someone else", WHEN)).encode()
        response = self.post(hub, body, {"Typeform-Signature": signature(body, "not-the-secret")})
        assert response.status_code == 401
        assert "does not match" in response.json()["error"]["message"]
        assert self.stored(collector_db) == []


def test_recorded_delivery_maps_to_an_item() -> None:
    [item] = COLLECTOR.items(config(), {}, RECORDED)
    assert item.external_id == "x7q1w9nhd3ylb0k2x7q1w9ps5agjm4tc"  # the token, not event_id
    assert item.channel == "survey"
    assert item.created_at == datetime(2026, 11, 30, 18, 2, 11, tzinfo=UTC)  # submitted_at
    assert item.text == (  # the first long_text answer, stripped
        "The courier left the bag at the neighbour's door and the oat milk was swapped for "
        '"milk-flavoured drink" again.\nSupport refunded it quickly, to be fair.'
    )
    assert (item.score_type, item.score) == ("nps", 4)  # the nps field, found by its type
    assert item.title is None and item.author is None and item.url is None
    assert item.language is None
    assert item.customer == {"ref": "cus_48213", "email": "marta.quintero@example.com"}
    assert item.metadata == {
        "form_id": "rXb9q2Lk",
        "form_title": "How was your Cestia delivery?",
        "hidden": {
            "user_id": "cus_48213",
            "email": "Marta.Quintero@example.com",
            "plan": "family",
            "utm_source": "order_confirmation_email",
        },
        "landed_at": "2026-11-30T17:58:40Z",
        "calculated_score": 0,
        "variables": {"score": 0, "segment": "repeat_buyer"},
        "ending": "default_tys",
    }
    assert item.answers == {
        "nps": 4,
        "what_happened": RECORDED["form_response"]["answers"][1]["text"],
        "delivery_rating": 2,
        "ease": 6,
        "issues": ["It was late", "Unwanted substitution", "Wrong door"],
        "store": "Cestia Lisboa — Alcântara",
        "contact_ok": True,
        "contact_email": "marta.q@example.org",
        "delivery_day": "2026-11-29",
        "channel": "iOS app",
        "photo": RECORDED["form_response"]["answers"][10]["file_url"],
        "Ui7oP1aS5dFg": 6,  # a field without a ref is keyed by its id
    }


def test_the_config_names_the_questions_by_ref_or_id() -> None:
    chosen = config(score_field="Wm5yE2rH8uBo", comment_field="store", email_field="contact_email")
    [item] = COLLECTOR.items(chosen, {}, RECORDED)
    assert (item.score_type, item.score) == ("stars", 2)  # a rating field is stars
    assert item.text == "Cestia Lisboa — Alcântara"
    assert item.customer == {"ref": "cus_48213", "email": "marta.q@example.org"}


@pytest.mark.parametrize(
    ("field", "score_type", "expected"),
    [
        ("ease", "ces", ("ces", 6)),
        ("delivery_rating", "csat", ("csat", 2)),
        ("contact_ok", None, ("thumbs", 1)),  # yes_no: thumbs up for yes
        ("nps", None, ("nps", 4)),
    ],
)
def test_score_fields_and_types(
    field: str, score_type: str | None, expected: tuple[str, int]
) -> None:
    [item] = COLLECTOR.items(config(score_field=field, score_type=score_type), {}, RECORDED)
    assert (item.score_type, item.score) == expected


def test_a_0_to_10_opinion_scale_is_nps_and_others_need_a_score_type() -> None:
    event = copy.deepcopy(RECORDED)
    scale = event["form_response"]["definition"]["fields"][3]
    with pytest.raises(MalformedResponse, match="set score_type"):
        COLLECTOR.items(config(score_field="ease"), {}, event)
    scale["properties"] = {"steps": 11, "start_at_one": False}
    [item] = COLLECTOR.items(config(score_field="ease"), {}, event)
    assert (item.score_type, item.score) == ("nps", 6)


@pytest.mark.parametrize(
    ("field", "score_type", "message"),
    [
        ("ease", "csat", "6, out of range for csat"),
        ("store", "stars", "not a whole number"),
        ("contact_ok", "nps", "not a whole number"),
    ],
)
def test_a_score_that_does_not_fit_is_malformed(field: str, score_type: str, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        COLLECTOR.items(config(score_field=field, score_type=score_type), {}, RECORDED)


def test_a_fractional_score_is_malformed() -> None:
    event = copy.deepcopy(RECORDED)
    event["form_response"]["answers"][0]["number"] = 7.5
    with pytest.raises(MalformedResponse, match="not a whole number"):
        COLLECTOR.items(config(), {}, event)


def test_a_skipped_score_question_leaves_the_comment() -> None:
    [item] = COLLECTOR.items(config(), {}, delivery(answers=answers_without("nps")))
    assert (item.score_type, item.score) == (None, None)
    assert item.text is not None and item.text.startswith("The courier")


def test_a_response_with_neither_comment_nor_score_is_not_stored() -> None:
    event = delivery(answers=answers_without("nps", "what_happened"))
    assert COLLECTOR.items(config(), {}, event) == []
    assert COLLECTOR.items(config(), {}, delivery(answers=[])) == []
    assert COLLECTOR.items(config(), {}, delivery(answers=None)) == []


def test_the_customer_comes_from_hidden_fields() -> None:
    hidden = {"customer_id": "C-77", "email": "xxxxx", "name": "Marta Quintero"}
    [item] = COLLECTOR.items(config(), {}, delivery(hidden=hidden))
    assert item.customer == {"ref": "C-77", "name": "Marta Quintero"}  # a bad email is dropped
    [item] = COLLECTOR.items(config(), {}, delivery(hidden={"email": "buyer@example.com"}))
    assert item.customer == {"email": "buyer@example.com"}
    [anonymous] = COLLECTOR.items(config(), {}, delivery(hidden={}))
    assert anonymous.customer is None and "hidden" not in anonymous.metadata


def test_other_events_are_ignored() -> None:
    partial = {**copy.deepcopy(RECORDED), "event_type": "form_response_partial"}
    assert COLLECTOR.items(config(), {}, partial) == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"hello": "world"}, "event_type"),
        ([RECORDED], "event_type"),
        ({"event_type": "form_response"}, "form_response.token"),
        ({"event_type": "form_response", "form_response": {"token": ""}}, "token"),
        (delivery(answers={"nps": 4}), "answers` is not a list"),
    ],
)
def test_payloads_of_another_shape_are_malformed(payload: Any, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        COLLECTOR.items(config(), {}, payload)


def test_lenient_about_optional_parts() -> None:
    event = delivery(definition=None, hidden=None, variables=None, calculated=None, ending=None)
    del event["form_response"]["landed_at"]
    [item] = COLLECTOR.items(config(), {}, event)
    assert item.metadata["form_id"] == "rXb9q2Lk" and "form_title" not in item.metadata
    assert item.customer is None
    naive = delivery(submitted_at="2026-11-30T18:02:11")
    [item] = COLLECTOR.items(config(), {}, naive)
    assert item.created_at == datetime(2026, 11, 30, 18, 2, 11, tzinfo=UTC)


BODY = json.dumps(RECORDED).encode()


def test_verify_accepts_the_signature_in_any_header_case() -> None:
    COLLECTOR.verify(config(), httpx.Headers({"typeform-signature": signature(BODY)}), BODY)
    COLLECTOR.verify(config(), {"TYPEFORM-SIGNATURE": signature(BODY)}, BODY)  # a plain dict


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing Typeform-Signature"),
        ({"Typeform-Signature": "sha1=" + signature(BODY)[7:]}, "expected sha256=<base64>"),
        ({"Typeform-Signature": base64.b64encode(b"x" * 32).decode()}, "expected sha256="),
        ({"Typeform-Signature": "sha256="}, "expected sha256=<base64>"),
        ({"Typeform-Signature": "sha256=not base64!"}, "not base64"),
        ({"Typeform-Signature": signature(BODY, "other-secret")}, "does not match"),
        ({"Typeform-Signature": signature(BODY + b" ")}, "does not match"),
        ({"Typeform-Signature": "sha256=" + hashlib.sha256(BODY).hexdigest()}, "does not match"),
    ],
)
def test_verify_refuses(headers: dict[str, str], message: str) -> None:
    with pytest.raises(BadSignature, match=message):
        COLLECTOR.verify(config(), httpx.Headers(headers), BODY)


def test_the_config_refuses_unknown_keys_and_a_blank_secret() -> None:
    with pytest.raises(ValueError, match="base_url"):
        TypeformConfig.model_validate({"secret": SECRET, "base_url": "https://x.test"})
    with pytest.raises(ValueError, match="secret"):
        TypeformConfig.model_validate({"secret": "  "})
    with pytest.raises(ValueError, match="score_type"):
        TypeformConfig.model_validate({"secret": SECRET, "score_type": "percent"})


@pytest.mark.parametrize("submitted_at", [None, "yesterday"])
def test_a_recorded_response_without_its_times_is_dated_on_arrival(submitted_at: Any) -> None:
    before = datetime.now(UTC)
    [item] = COLLECTOR.items(config(), {}, delivery(submitted_at=submitted_at, landed_at=None))
    assert item.created_at >= before


def test_an_answer_that_names_no_field_is_left_out_alone() -> None:
    """Real deliveries may carry an answer without `field`: the rest of the response counts."""
    payload = copy.deepcopy(RECORDED)
    answers = payload["form_response"]["answers"]
    kept = len(answers)
    answers.append({"type": "text", "text": "an orphan answer"})
    [item] = COLLECTOR.items(config(), {}, payload)
    [complete] = COLLECTOR.items(config(), {}, RECORDED)
    assert item.answers == complete.answers and len(answers) == kept + 1
    assert (item.score, item.text) == (complete.score, complete.text)
