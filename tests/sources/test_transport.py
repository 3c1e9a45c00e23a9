"""The collectors' transport: retries, Retry-After, rate-limit pacing, giving up."""

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from hub.sources.transport import (
    RateLimited,
    RetryingTransport,
    rate_limit_reset_at,
    retry_after_seconds,
)


def run(
    responses: list[httpx.Response | Exception], **options: float
) -> tuple[object, list[float], int]:
    """Send one GET through the transport over canned answers; (result, sleeps, calls)."""
    answers = list(responses)
    calls = {"n": 0}
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def go() -> object:
        transport = RetryingTransport(httpx.MockTransport(handler), sleep=sleep, **options)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport) as client:
            try:
                return await client.get("https://api.test/items")
            except Exception as exc:
                return exc

    return asyncio.run(go()), sleeps, calls["n"]


def test_retry_after_in_seconds_and_as_a_date() -> None:
    assert retry_after_seconds(httpx.Headers({"Retry-After": "12"})) == 12
    later = datetime.now(UTC) + timedelta(seconds=30)
    asked = retry_after_seconds(httpx.Headers({"Retry-After": format_datetime(later, usegmt=True)}))
    assert asked is not None and 28 <= asked <= 31
    assert retry_after_seconds(httpx.Headers({"Retry-After": "soon"})) is None


def test_rate_limit_resets_in_three_formats() -> None:
    now = 1_800_000_000.0
    spent = {"X-Ratelimit-Remaining": "0.0"}
    assert (
        rate_limit_reset_at(httpx.Headers({**spent, "X-Ratelimit-Reset": "42"}), now=now)
        == now + 42
    )
    epoch = {**spent, "X-RateLimit-Reset": "1800000300"}
    assert rate_limit_reset_at(httpx.Headers(epoch), now=now) == 1_800_000_300
    iso = {**spent, "X-RateLimit-Reset": "2027-01-15T08:00:00.000Z"}
    assert (
        rate_limit_reset_at(httpx.Headers(iso), now=now)
        == datetime(2027, 1, 15, 8, tzinfo=UTC).timestamp()
    )
    bluesky = {"RateLimit-Remaining": "0", "RateLimit-Reset": "1800000060"}
    assert rate_limit_reset_at(httpx.Headers(bluesky), now=now) == 1_800_000_060
    left = {"X-Rate-Limit-Remaining": "17", "X-Rate-Limit-Reset": "5"}
    assert rate_limit_reset_at(httpx.Headers(left), now=now) is None


def test_429_waits_what_it_is_told_then_succeeds() -> None:
    result, sleeps, calls = run(
        [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json={})]
    )
    assert isinstance(result, httpx.Response) and result.status_code == 200
    assert (sleeps, calls) == ([3.0], 2)


def test_5xx_and_timeouts_back_off_with_jitter() -> None:
    result, sleeps, calls = run(
        [httpx.Response(503), httpx.ConnectTimeout("slow"), httpx.Response(200, json={})],
        base_wait=1.0,
    )
    assert isinstance(result, httpx.Response) and result.status_code == 200
    assert calls == 3 and len(sleeps) == 2 and all(0 <= s <= 60 for s in sleeps)


def test_gives_up_after_the_attempts_with_the_last_answer() -> None:
    result, _sleeps, calls = run([httpx.Response(500)] * 3, attempts=3)
    assert isinstance(result, httpx.Response) and result.status_code == 500
    assert calls == 3
    error, _sleeps, calls = run([httpx.ReadTimeout("slow")] * 2, attempts=2)
    assert isinstance(error, httpx.ReadTimeout) and calls == 2


def test_a_long_retry_after_is_not_slept_through() -> None:
    result, sleeps, calls = run([httpx.Response(429, headers={"Retry-After": "3600"})], max_wait=60)
    assert isinstance(result, httpx.Response) and result.status_code == 429
    assert (sleeps, calls) == ([], 1)


def test_client_errors_are_not_retried() -> None:
    result, sleeps, calls = run([httpx.Response(404)])
    assert isinstance(result, httpx.Response) and result.status_code == 404
    assert (sleeps, calls) == ([], 1)


@pytest.mark.parametrize("reset", ["5", "2"])
def test_a_spent_budget_pauses_the_next_request(reset: str) -> None:
    headers = {"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": reset}
    calls: list[float] = []
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, headers=headers, json={})

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def go() -> None:
        transport = RetryingTransport(httpx.MockTransport(handler), sleep=sleep)
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get("https://api.test/a")
            await client.get("https://api.test/b")

    asyncio.run(go())
    assert len(calls) == 2 and len(sleeps) == 1
    assert float(reset) - 1 <= sleeps[0] <= float(reset)


def test_a_budget_spent_for_longer_than_a_run_waits_raises() -> None:
    headers = {"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "900"}

    async def go() -> None:
        transport = RetryingTransport(
            httpx.MockTransport(lambda r: httpx.Response(200, headers=headers, json={})),
            max_wait=60,
        )
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get("https://api.test/a")
            await client.get("https://api.test/b")

    with pytest.raises(RateLimited, match=r"api\.test asked to wait"):
        asyncio.run(go())
