"""Formbricks webhooks: the recorded delivery, Standard Webhooks signatures, and the contract."""

import base64
import copy
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from collectors.base import BadSignature, MalformedResponse
from collectors.formbricks import FormbricksCollector, FormbricksConfig
from hub.feedback.models import Feedback
from tests.collectors.webhook_contract import WHEN, WebhookContract
from tests.conftest import Database

RECORDED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "response_finished.json").read_text("utf-8")
)
KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()
COLLECTOR = FormbricksCollector()
BODY = json.dumps(RECORDED).encode()


def sign(
    body: bytes, message_id: str = "msg_0", stamp: int | None = None, key: bytes = KEY
) -> dict[str, str]:
    """Standard Webhooks headers, as Formbricks sends them."""
    stamp = int(time.time()) if stamp is None else stamp
    signed = f"{message_id}.{stamp}.".encode() + body
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": f"v1,{digest}",
    }


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def config(**changes: Any) -> FormbricksConfig:
    base = {"secret": SECRET, "score_question": "recommend", "score_type": "nps"}
    return FormbricksConfig.model_validate({**base, **changes})


def event(name: str = "responseFinished", **changes: Any) -> dict[str, Any]:
    """The recorded delivery as event ``name``, with response fields replaced."""
    delivery = copy.deepcopy(RECORDED)
    delivery["event"] = name
    delivery["data"].update(changes)
    return delivery


def answers(**changes: Any) -> dict[str, Any]:
    """The recorded answers with some replaced (None: the question is absent)."""
    data = {**RECORDED["data"]["data"], **changes}
    return {question: value for question, value in data.items() if value is not None}


class TestFormbricksContract(WebhookContract):
    kind = "formbricks"

    def config(self) -> dict[str, Any]:
        return {
            "secret": SECRET,
            "score_question": "recommend",
            "score_type": "nps",
            "comment_question": "whatToImprove",
        }

    def payload(self, n: int, text: str, when: datetime) -> dict[str, Any]:
        delivery = copy.deepcopy(RECORDED)
        response = delivery["data"]
        response["id"] = f"cm3z8k1qv{n:04d}js08h2r4x7yd"
        response["createdAt"] = iso(when.replace(second=0))
        response["updatedAt"] = iso(when)
        response["data"]["recommend"] = n % 11
        response["data"]["whatToImprove"] = text  # a skipped open question is ""
        return delivery

    def sign(self, body: bytes, *, n: int = 0) -> dict[str, str]:
        return sign(body, message_id=f"0193a1c2-7d4e-7f00-8000-{n:012d}")

    def record_id(self, n: int) -> str:
        return f"cm3z8k1qv{n:04d}js08h2r4x7yd"

    def check_item(self, stored: Feedback, n: int, text: str) -> None:
        assert stored.channel == "survey"
        assert (stored.score_type, stored.score) == ("nps", n % 11)
        assert stored.created_at == WHEN  # updatedAt: when the response was finished
        assert stored.customer_id is not None
        assert stored.meta is not None
        assert stored.meta["surveyId"] == "cm3ukq9zt0001l70814dpw2ns"
        assert stored.meta["source_language"] == "pt"
        assert stored.answers is not None and stored.answers["whatToImprove"] == text

    def test_partial_responses_are_acknowledged_and_the_finished_one_kept(
        self, hub: TestClient, collector_db: Database
    ) -> None:
        finished = self.payload(20, "Chegou tarde", WHEN)
        created = copy.deepcopy(finished)
        created["event"], created["data"]["finished"] = "responseCreated", False
        created["data"]["data"] = {"recommend": 3}
        for n, delivery in enumerate([created, finished], start=1):
            body = json.dumps(delivery).encode()
            response = self.post(hub, body, self.sign(body, n=n))
            assert response.status_code == 200, response.text
        [row] = self.stored(collector_db)
        assert row.text == "Chegou tarde"

    def test_formbricks_endpoint_test_is_acknowledged(
        self, hub: TestClient, collector_db: Database
    ) -> None:
        body = json.dumps({"event": "testEndpoint"}).encode()
        response = self.post(hub, body, self.sign(body))
        assert (response.status_code, response.json()["created"]) == (200, 0)

    def test_a_stale_delivery_is_refused(self, hub: TestClient, collector_db: Database) -> None:
        body = json.dumps(self.payload(21, "Replayed", WHEN)).encode()
        response = self.post(hub, body, sign(body, stamp=int(time.time()) - 3600))
        assert response.status_code == 401
        assert "stale webhook-timestamp" in response.json()["error"]["message"]
        assert self.stored(collector_db) == []


def test_recorded_delivery_maps_to_an_item() -> None:
    [item] = COLLECTOR.items(config(), {}, RECORDED)
    assert item.external_id == "cm3z8k1qv000bjs08h2r4x7yd"  # the response id
    assert item.channel == "survey"
    assert item.created_at == datetime(2026, 11, 30, 18, 2, 11, 903000, tzinfo=UTC)  # updatedAt
    # The first text answer that is not the score nor a CTA's "clicked", stripped.
    assert item.text == (
        "A entrega chegou com 40 minutos de atraso e o leite de aveia veio trocado por "
        '"bebida sabor leite".'
    )
    assert (item.score_type, item.score) == ("nps", 3)
    assert item.title is None and item.author is None and item.url is None
    assert item.language == "pt"
    assert item.customer == {
        "ref": "cus_48213",
        "email": "marta.quintero@example.com",
        "name": "Marta Quintero",
    }
    assert item.metadata == {
        "surveyId": "cm3ukq9zt0001l70814dpw2ns",
        "surveyTitle": "Como correu a sua entrega?",
        "url": "https://shop.cestia.example/orders/118842/confirmation",
        "userAgent": {"browser": "Mobile Safari", "os": "iOS", "device": "mobile"},
        "country": "PT",
        "source": "app",
        "tags": ["delivery", "detractor"],
        "contactId": "cm2h7v5ka0003mh08yq0e6t1r",
    }
    assert item.answers == RECORDED["data"]["data"]


def test_the_documented_list_wrapped_body_is_accepted() -> None:
    body = [{"event": "testEndpoint"}, RECORDED, event("responseCreated", finished=False)]
    [item] = COLLECTOR.items(config(), {}, body)
    assert item.external_id == "cm3z8k1qv000bjs08h2r4x7yd"
    assert COLLECTOR.items(config(), {}, []) == []


@pytest.mark.parametrize(
    ("name", "finished", "stored"),
    [
        ("responseFinished", True, True),
        ("responseUpdated", True, True),  # the last answer, sent as an update
        ("responseCreated", True, True),  # a one-question survey finishes at once
        ("responseCreated", False, False),
        ("responseUpdated", False, False),
    ],
)
def test_only_finished_responses_are_stored(name: str, finished: bool, stored: bool) -> None:
    found = COLLECTOR.items(config(), {}, event(name, finished=finished))
    assert len(found) == int(stored)


@pytest.mark.parametrize("name", ["testEndpoint", "surveyClosed", ""])
def test_other_events_are_ignored(name: str) -> None:
    assert COLLECTOR.items(config(), {}, {"event": name, "webhookId": "clx9"}) == []


@pytest.mark.parametrize(
    ("language", "expected"), [("pt", "pt"), ("default", None), ("Default", None), (None, None)]
)
def test_the_language(language: str | None, expected: str | None) -> None:
    [item] = COLLECTOR.items(config(), {}, event(language=language))
    assert item.language == expected


def test_comment_question_and_other_scores() -> None:
    chosen = config(score_question="courierRating", score_type="csat", comment_question="issues")
    [item] = COLLECTOR.items(chosen, {}, RECORDED)
    assert (item.score_type, item.score) == ("csat", 2)
    assert item.text is None  # a list is not a comment: the score alone is stored
    [item] = COLLECTOR.items(config(comment_question="orderChannel"), {}, RECORDED)
    assert item.text == "App iOS"
    [item] = COLLECTOR.items(config(), {}, event(data=answers(recommend="9")))
    assert item.score == 9  # a number sent as a string


def test_without_a_score_question_only_the_comment_is_kept() -> None:
    bare = FormbricksConfig.model_validate({"secret": SECRET})
    [item] = COLLECTOR.items(bare, {}, RECORDED)
    assert (item.score_type, item.score) == (None, None)
    assert item.text is not None and item.text.startswith("A entrega")


@pytest.mark.parametrize("skipped", [{"recommend": ""}, {"recommend": None}])
def test_a_skipped_score_question_leaves_the_comment(skipped: dict[str, Any]) -> None:
    [item] = COLLECTOR.items(config(), {}, event(data=answers(**skipped)))
    assert item.score is None and item.score_type is None and item.text is not None


def test_a_response_with_neither_comment_nor_score_is_not_stored() -> None:
    assert COLLECTOR.items(config(), {}, event(data={})) == []
    assert COLLECTOR.items(config(), {}, event(data=None)) == []
    only_clicks = {"recommend": "", "jdm7j0wajlpzr1j3hl1yhtwc": "clicked", "consent": "accepted"}
    assert COLLECTOR.items(config(), {}, event(data=only_clicks)) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"recommend": 11}, "11, out of range for nps"),
        ({"recommend": -1}, "out of range for nps"),
        ({"recommend": 7.5}, "not a whole number"),
        ({"recommend": "nine"}, "not a whole number"),
        ({"recommend": ["9"]}, "not a whole number"),
        ({"recommend": True}, "not a whole number"),
    ],
)
def test_a_score_that_does_not_fit_is_malformed(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        COLLECTOR.items(config(), {}, event(data=answers(**changes)))


@pytest.mark.parametrize(
    ("answer", "rating_range", "thumb"),
    [
        (1, 5, 0),
        (2, 5, 0),
        (3, 5, 0),  # the midpoint is not a thumbs up
        (4, 5, 1),
        (5, 5, 1),
        (5, 10, 0),
        (6, 10, 1),
        (2, 3, 0),
        (3, 3, 1),
        (3, 4, 1),
        ("4", 5, 1),
        ("Yes", 5, 1),
        (" no ", 5, 0),
        ("👍", 5, 1),
        ("👎", 5, 0),
        ("clicked", 5, 1),
        ("dismissed", 5, 0),
        ("accepted", 5, 1),
        (True, 5, 1),
        (False, 5, 0),
    ],
)
def test_thumbs_mapping(answer: Any, rating_range: int, thumb: int) -> None:
    thumbs = config(score_question="helpful", score_type="thumbs", rating_range=rating_range)
    [item] = COLLECTOR.items(thumbs, {}, event(data=answers(helpful=answer)))
    assert (item.score_type, item.score) == ("thumbs", thumb)


@pytest.mark.parametrize(
    ("answer", "message"), [(6, "rating range 1-5"), (0, "1-5"), ("maybe", "whole")]
)
def test_a_thumbs_answer_that_does_not_fit_is_malformed(answer: Any, message: str) -> None:
    thumbs = config(score_question="helpful", score_type="thumbs")
    with pytest.raises(MalformedResponse, match=message):
        COLLECTOR.items(thumbs, {}, event(data=answers(helpful=answer)))


def test_the_customer() -> None:
    anonymous = event(contact=None, contactAttributes=None)
    [item] = COLLECTOR.items(config(), {}, anonymous)
    assert item.customer is None and "contactId" not in item.metadata
    by_email = event(contact=None, contactAttributes={"email": "buyer@example.com"})
    [item] = COLLECTOR.items(config(), {}, by_email)
    assert item.customer == {"email": "buyer@example.com"}
    bad_email = event(contactAttributes={"email": "not an address", "name": "M. Q."})
    [item] = COLLECTOR.items(config(), {}, bad_email)
    assert item.customer == {"ref": "cus_48213", "name": "M. Q."}  # a bad email is dropped
    by_attribute = event(contact={"id": "cm2h7"}, contactAttributes={"userId": 48213})
    [item] = COLLECTOR.items(config(), {}, by_attribute)
    assert item.customer == {"ref": "48213"}


def test_lenient_about_optional_parts() -> None:
    sparse = event(meta=None, tags=None, survey=None, updatedAt=None, contact=None)
    [item] = COLLECTOR.items(config(), {}, sparse)
    assert item.created_at == datetime(2026, 11, 30, 18, 1, 2, 417000, tzinfo=UTC)  # createdAt
    assert set(item.metadata) == {"surveyId"} and item.answers
    assert item.customer is not None and item.customer["ref"] == "cus_48213"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"hello": "world"}, "with an `event`"),
        ("responseFinished", "with an `event`"),
        ([{"data": {}}], "with an `event`"),
        ({"event": "responseFinished", "webhookId": "clx9"}, "lacks `data.id`"),
        (event(id=None), "lacks `data.id`"),
        (event(data=["recommend", 3]), "not an object of answers"),
    ],
)
def test_payloads_of_another_shape_are_malformed(payload: Any, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        COLLECTOR.items(config(), {}, payload)


def test_verify_accepts_a_fresh_signed_delivery() -> None:
    COLLECTOR.verify(config(), httpx.Headers(sign(BODY)), BODY)
    upper = {name.upper(): value for name, value in sign(BODY).items()}  # a plain dict
    COLLECTOR.verify(config(), upper, BODY)
    near = sign(BODY, stamp=int(time.time()) - 290)
    COLLECTOR.verify(config(), near, BODY)


def test_any_one_v1_signature_is_enough() -> None:
    headers = sign(BODY)
    good = headers["webhook-signature"]
    other = sign(BODY, key=b"an old secret")["webhook-signature"]
    asymmetric = "v1a,c2lnbmVkIHdpdGggZWQyNTUxOQ=="
    headers["webhook-signature"] = f"{other} {asymmetric} v1,not-base64! {good}"
    COLLECTOR.verify(config(), headers, BODY)


def test_secrets_without_the_whsec_prefix() -> None:
    plain = "a-plain-shared-secret"
    COLLECTOR.verify(config(secret=plain), sign(BODY, key=plain.encode()), BODY)
    bare_base64 = SECRET.removeprefix("whsec_")  # what Formbricks decodes it as
    COLLECTOR.verify(config(secret=bare_base64), sign(BODY), BODY)


def _without(name: str) -> dict[str, str]:
    return {key: value for key, value in sign(BODY).items() if key != name}


@pytest.mark.parametrize(
    ("make_headers", "message"),
    [
        (lambda: {}, "missing webhook-id"),
        (lambda: _without("webhook-id"), "missing webhook-id"),
        (lambda: _without("webhook-timestamp"), "missing webhook-timestamp"),
        (lambda: _without("webhook-signature"), "missing webhook-signature"),
        (lambda: {**sign(BODY), "webhook-id": " "}, "missing webhook-id"),
        (
            lambda: {**sign(BODY), "webhook-timestamp": "2026-11-30T18:02:11Z"},
            "malformed webhook-timestamp",
        ),
        (lambda: {**sign(BODY), "webhook-signature": "K3Q2bXlzZWNyZXQ="}, "no v1,<base64> entry"),
        (
            lambda: {**sign(BODY), "webhook-signature": "v1a,K3Q2bXlzZWNyZXQ="},
            "no v1,<base64> entry",
        ),
        (
            lambda: {**sign(BODY), "webhook-signature": "v1,K3Q2bXlzZWNyZXQ="},
            "no webhook-signature matches",
        ),
        (lambda: sign(BODY, key=b"someone else"), "no webhook-signature matches"),
        (lambda: sign(BODY + b" "), "no webhook-signature matches"),
        (lambda: {**sign(BODY), "webhook-id": "msg_other"}, "no webhook-signature matches"),
        (lambda: sign(BODY, stamp=0), "stale webhook-timestamp"),
    ],
)
def test_verify_refuses(make_headers: Callable[[], dict[str, str]], message: str) -> None:
    # Signed here, not at collection: a long run must not age the stamps past the tolerance.
    with pytest.raises(BadSignature, match=message):
        COLLECTOR.verify(config(), httpx.Headers(make_headers()), BODY)


@pytest.mark.parametrize(
    ("offset", "message"),
    [(-310, r"stale webhook-timestamp: 3[01]\d s ago"), (310, r"3[01]\d s ahead")],
)
def test_verify_refuses_a_timestamp_outside_the_tolerance(offset: int, message: str) -> None:
    # Signed here, not at collection: a slow run must not move the stamp out of the window.
    headers = sign(BODY, stamp=int(time.time()) + offset)
    with pytest.raises(BadSignature, match=message):
        COLLECTOR.verify(config(), httpx.Headers(headers), BODY)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"score_type": None}, "go together"),
        ({"score_question": None}, "go together"),
        ({"score_type": "percent"}, "score_type"),
        ({"secret": "whsec_not base64!"}, "base64 after the prefix"),
        ({"secret": ""}, "secret"),
        ({"rating_range": 1}, "rating_range"),
        ({"base_url": "https://app.formbricks.com"}, "base_url"),
    ],
)
def test_the_config_is_checked(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config(**changes)


@pytest.mark.parametrize(("updated", "created"), [(None, None), ("soon", "1 Dec")])
def test_a_recorded_response_without_its_times_is_dated_on_arrival(
    updated: Any, created: Any
) -> None:
    before = datetime.now(UTC)
    [item] = COLLECTOR.items(config(), {}, event(updatedAt=updated, createdAt=created))
    assert item.created_at >= before
