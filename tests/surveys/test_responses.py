"""POST /api/v1/responses: stored once, honeypot, every 4xx, rate limits, feedback fields."""

import asyncio
import threading
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from hub.auth.service import revoke_key
from hub.customers.models import Customer
from hub.feedback.models import Feedback
from hub.http.rate_limit import RateLimiter
from hub.sources.models import Source
from hub.store.engine import session_scope
from hub.surveys.models import ResponseIn, SurveyPublic
from hub.surveys.service import Submission, submit_response
from tests.conftest import Database
from tests.surveys.conftest import ORIGIN, OTHER_ORIGIN, Post, idempotency_key, make_survey

pytestmark = pytest.mark.anyio


def stored(db: Database) -> list[Feedback]:
    with session_scope(db.engine) as session:
        return list(session.exec(select(Feedback).order_by(col(Feedback.id))).all())


def error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]


async def test_a_response_becomes_survey_feedback(
    post: Post, survey: SurveyPublic, db: Database
) -> None:
    body: dict[str, Any] = {
        "key": survey.key,
        "score": 4,
        "comment": "  Checkout kept failing on my card.  ",
        "customer": {
            "id": 1234,
            "email": "Ana@Example.com",
            "name": "Ana",
            "attributes": {"plan": "pro"},
        },
        "metadata": {"url": "https://shop.example.com/checkout", "locale": "pt-BR"},
    }
    sent = await post(body, idem="first-response-1")
    assert sent.status_code == 201, sent.text
    assert sent.json() == {"id": sent.json()["id"], "status": "created"}
    assert sent.headers["access-control-allow-origin"] == ORIGIN
    [row] = stored(db)
    assert row.id == sent.json()["id"]
    assert (row.channel, row.score_type, row.score) == ("survey", "nps", 4)
    assert row.text == "Checkout kept failing on my card."
    assert row.external_id == "first-response-1"
    assert row.url == "https://shop.example.com/checkout"
    assert row.meta is not None
    assert row.meta["survey_id"] == survey.id
    assert row.meta["locale"] == "pt-BR"
    assert row.meta["origin"] == ORIGIN
    assert row.meta["user_agent"].startswith("python-httpx")
    assert row.nlp_state == "pending"
    with session_scope(db.engine) as session:
        source = session.get(Source, row.source_id)
        customer = session.get(Customer, row.customer_id)
    assert source is not None and (source.kind, source.name) == ("widget", survey.source)
    assert customer is not None
    assert (customer.external_ref, customer.email, customer.name) == (
        "1234",
        "ana@example.com",
        "Ana",
    )
    assert customer.attributes == {"plan": "pro"}


async def test_retries_store_once(post: Post, db: Database) -> None:
    answers = [await post(idem="retry-me-123", comment="slow") for _ in range(5)]
    assert [r.status_code for r in answers] == [201, 200, 200, 200, 200]
    assert {r.json()["id"] for r in answers} == {answers[0].json()["id"]}
    assert [r.json()["status"] for r in answers[1:]] == ["duplicate"] * 4
    assert len(stored(db)) == 1


async def test_concurrent_retries_over_http_store_once(post: Post, db: Database) -> None:
    answers = await asyncio.gather(*(post(idem="concurrent-1") for _ in range(5)))
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 200, 201]
    assert len({r.json()["id"] for r in answers}) == 1
    assert len(stored(db)) == 1


def test_concurrent_retries_from_threads_store_once(db: Database) -> None:
    survey = make_survey(db)
    limiter = RateLimiter()
    barrier = threading.Barrier(5)
    results: list[Any] = []

    def submit() -> None:
        response = ResponseIn(key=survey.key, score=10, comment="great")
        submission = Submission("threaded-key-1", ORIGIN, "10.0.0.1", "test")
        barrier.wait()
        with session_scope(db.engine) as session:
            result = submit_response(
                session,
                response=response,
                submission=submission,
                limiter=limiter,
                default_rate_limit=30,
            )
        results.append(result)

    threads = [threading.Thread(target=submit) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status for r in results) == ["created"] + ["duplicate"] * 4
    assert len({r.id for r in results}) == 1
    assert len(stored(db)) == 1


async def test_the_same_idempotency_key_in_two_surveys_is_two_responses(
    post: Post, db: Database
) -> None:
    other = make_survey(db, type="thumbs")
    first = await post(idem="shared-key-1")
    second = await post({"key": other.key, "score": 1}, idem="shared-key-1")
    assert (first.status_code, second.status_code) == (201, 201)
    rows = stored(db)
    assert len({row.source_id for row in rows}) == 2
    assert [row.score_type for row in rows] == ["nps", "thumbs"]


async def test_honeypot_is_accepted_and_not_stored(post: Post, db: Database) -> None:
    bot = await post(website="http://spam.example.com")
    assert (bot.status_code, bot.json()) == (202, {"status": "accepted"})
    assert stored(db) == []
    human = await post(website="")
    assert human.status_code == 201


async def test_a_key_posts_only_to_its_own_survey(
    post: Post, survey: SurveyPublic, db: Database
) -> None:
    make_survey(db, allowed_origins=[OTHER_ORIGIN])
    # The body has no say over where it is stored: a `source` field is refused outright ...
    sneaky = await post(source="widget-other", survey_id=999)
    assert sneaky.status_code == 422
    assert "source: Extra inputs are not permitted" in sneaky.json()["error"]["message"]
    # ... and a valid post lands in the key's own survey's source only.
    assert (await post()).status_code == 201
    [row] = stored(db)
    with session_scope(db.engine) as session:
        source = session.get(Source, row.source_id)
    assert source is not None and source.name == survey.source
    assert row.meta is not None and row.meta["survey_id"] == survey.id
    # The other survey's origin cannot use this key.
    refused = await post(origin=OTHER_ORIGIN)
    assert error(refused) == (
        403,
        "forbidden",
        f"origin '{OTHER_ORIGIN}' is not allowed for this widget key",
    )


async def test_unknown_and_revoked_keys_are_404(
    post: Post, survey: SurveyPublic, db: Database
) -> None:
    unknown = await post({"key": "pk_000000000000000000000000", "score": 5})
    assert error(unknown) == (404, "not_found", "unknown widget key")
    assert unknown.json()["error"]["details"] == [
        {"loc": ["body", "key"], "message": "no active survey"}
    ]
    assert unknown.headers["access-control-allow-origin"] == ORIGIN  # readable by the widget
    with session_scope(db.engine) as session:
        revoke_key(session, key_id=survey.key_id)
    assert error(await post()) == (404, "not_found", "this widget key was revoked")
    assert stored(db) == []


async def test_bearer_keys_are_not_widget_keys(
    post: Post, api_key: str, client: httpx.AsyncClient, survey: SurveyPublic
) -> None:
    assert error(await post({"key": api_key[:60], "score": 5}))[0] == 404
    # ... and a widget key is no bearer key.
    listed = await client.get("/api/v1/feedback", headers={"Authorization": f"Bearer {survey.key}"})
    assert listed.status_code == 401


async def test_requests_without_origin(post: Post, db: Database) -> None:
    refused = await post(origin=None)
    assert error(refused) == (
        403,
        "forbidden",
        "this widget key only accepts browser requests (with an Origin header)",
    )
    server = make_survey(db, allow_without_origin=True)
    assert (await post({"key": server.key, "score": 7}, origin=None)).status_code == 201


@pytest.mark.parametrize(
    ("fields", "loc", "message"),
    [
        ({"score": 11}, ["body", "score"], "score: score 11 is out of range for nps (0-10)"),
        ({"score": -1}, ["body", "score"], "score: score -1 is out of range for nps (0-10)"),
        ({"score": "9"}, ["body", "score"], "score: Input should be a valid integer"),
        (
            {"comment": "x" * 5001},
            ["body", "comment"],
            "comment: String should have at most 5000 characters",
        ),
        (
            {"customer": {"email": "not-an-email"}},
            ["body", "customer", "email"],
            "customer.email: not a valid email address",
        ),
        (
            {"customer": {"name": "Ana"}},
            ["body", "customer"],
            "customer: a customer needs an `id` or an `email`",
        ),
        ({"score": None}, ["body", "score"], "score: Input should be a valid integer"),
    ],
)
async def test_422_names_the_field(
    post: Post, db: Database, fields: dict[str, Any], loc: list[str], message: str
) -> None:
    refused = await post(**fields)
    status, _code, text = error(refused)
    assert status == 422, refused.text
    assert text.startswith(message), text
    assert refused.json()["error"]["details"][0]["loc"] == loc
    assert refused.headers["access-control-allow-origin"] == ORIGIN
    assert stored(db) == []


@pytest.mark.parametrize(
    ("survey_type", "low", "high"), [("csat", 1, 5), ("ces", 1, 7), ("thumbs", 0, 1)]
)
async def test_score_ranges_follow_the_survey_type(
    post: Post, db: Database, survey_type: str, low: int, high: int
) -> None:
    typed = make_survey(db, type=survey_type)
    for score in (low, high):
        assert (await post({"key": typed.key, "score": score})).status_code == 201
    for score in (low - 1, high + 1):
        refused = await post({"key": typed.key, "score": score})
        assert error(refused)[2] == (
            f"score: score {score} is out of range for {survey_type} ({low}-{high})"
        )


async def test_400_malformed_json_and_idempotency_key(
    client: httpx.AsyncClient, survey: SurveyPublic
) -> None:
    json_type = {"Content-Type": "application/json", "Origin": ORIGIN}
    broken = await client.post(
        "/api/v1/responses",
        content=b'{"key": ',
        headers={**json_type, "Idempotency-Key": "abcdefgh"},
    )
    status, code, message = error(broken)
    assert (status, code) == (400, "malformed_json")
    assert message.startswith("the body is not valid JSON")
    assert broken.headers["access-control-allow-origin"] == ORIGIN
    body = {"key": survey.key, "score": 3}
    missing = await client.post("/api/v1/responses", json=body, headers={"Origin": ORIGIN})
    assert error(missing)[:2] == (400, "bad_request")
    assert error(missing)[2].startswith("missing Idempotency-Key header")
    for bad in ("short", "x" * 65, "has space 123", "dots.not.allowed"):
        refused = await client.post(
            "/api/v1/responses", json=body, headers={"Origin": ORIGIN, "Idempotency-Key": bad}
        )
        assert error(refused) == (
            400,
            "bad_request",
            "the Idempotency-Key header must be 8-64 characters of [A-Za-z0-9_-]",
        ), bad
    not_object = await client.post(
        "/api/v1/responses", content=b"[1]", headers={**json_type, "Idempotency-Key": "abcdefgh"}
    )
    assert error(not_object) == (422, "invalid_input", "the body must be a JSON object")


async def test_415_when_not_json(client: httpx.AsyncClient, survey: SurveyPublic) -> None:
    headers = {"Origin": ORIGIN, "Idempotency-Key": idempotency_key()}
    form = await client.post(
        "/api/v1/responses", data={"key": survey.key, "score": "3"}, headers=headers
    )
    assert error(form) == (
        415,
        "unsupported_media_type",
        "send the response as application/json (got application/x-www-form-urlencoded)",
    )
    text = await client.post(
        "/api/v1/responses", content=b"{}", headers={**headers, "Content-Type": "text/plain"}
    )
    assert error(text)[0] == 415
    assert text.headers["access-control-allow-origin"] == ORIGIN


async def test_413_over_16_kb_even_when_chunked(
    client: httpx.AsyncClient, survey: SurveyPublic, settings: Any
) -> None:
    assert settings.max_body_bytes > 16 * 1024  # the app-wide limit is larger
    headers = {
        "Origin": ORIGIN,
        "Idempotency-Key": idempotency_key(),
        "Content-Type": "application/json",
    }
    big = b'{"key": "%s", "score": 3, "comment": "%s"}' % (survey.key.encode(), b"x" * 17_000)
    sized = await client.post("/api/v1/responses", content=big, headers=headers)
    assert error(sized) == (
        413,
        "payload_too_large",
        "the request body is larger than the limit of 16384 bytes",
    )
    assert sized.headers["access-control-allow-origin"] == ORIGIN

    async def chunks() -> Any:
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    chunked = await client.post("/api/v1/responses", content=chunks(), headers=headers)
    assert "content-length" not in chunked.request.headers
    assert error(chunked)[0] == 413
    # Just under the limit is fine (a 5,000-character comment of 3-byte characters fits).
    fits = {"key": survey.key, "score": 3, "comment": "€" * 5000}
    assert (await client.post("/api/v1/responses", json=fits, headers=headers)).status_code == 201


async def test_429_with_retry_after_per_key_and_ip(
    app: Any, survey: SurveyPublic, db: Database, admin_auth: dict[str, str], post: Post
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 5000)),
        base_url="http://hub.test",
    ) as http:
        await http.patch(
            f"/api/v1/surveys/{survey.id}", json={"rate_limit_per_minute": 3}, headers=admin_auth
        )
        answers = [await post(http=http) for _ in range(4)]
        assert [r.status_code for r in answers] == [201, 201, 201, 429]
        limited = answers[-1]
        assert limited.json()["error"]["code"] == "rate_limited"
        assert limited.json()["error"]["message"].startswith(
            "more than 3 responses a minute from this address with this key; retry in"
        )
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.headers["access-control-allow-origin"] == ORIGIN
        assert "retry-after" in limited.headers["access-control-expose-headers"].lower()
    # Another address is not limited, and neither is another key from the same address.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.8", 5000)),
        base_url="http://hub.test",
    ) as http:
        assert (await post(http=http)).status_code == 201
    assert len(stored(db)) == 4


async def test_the_default_limit_comes_from_settings(
    client: httpx.AsyncClient, post: Post, settings: Any
) -> None:
    settings.widget_rate_limit_per_minute = 2
    codes = [(await post()).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
