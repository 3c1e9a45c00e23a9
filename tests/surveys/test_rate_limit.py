"""The widget rate limit (``limits``): in process, shared through the real Redis, failing open."""

import logging
import threading
import uuid
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import pytest
import redis

from hub.app import create_app
from hub.config import Settings
from hub.http.rate_limit import RateLimiter
from hub.surveys.models import SurveyPublic
from tests.conftest import IN_CI, Database
from tests.surveys.conftest import Post

REDIS_URL = "redis://127.0.0.1:6379/0"
UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own in the local Redis, its keys deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = f"Redis at {REDIS_URL} is unreachable ({exc}); `make redis` starts it"
        if IN_CI:
            pytest.fail(f"{reason}; CI must run the Redis tests")
        pytest.skip(f"!!! Redis tests NOT RUN: {reason}")
    prefix = f"feedback-hub-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def test_limit_per_minute_then_retry_after() -> None:
    limiter = RateLimiter()
    assert [limiter.hit(("key", "1.2.3.4"), limit=3) for _ in range(3)] == [0, 0, 0]
    assert 1 <= limiter.hit(("key", "1.2.3.4"), limit=3) <= 60
    assert limiter.hit(("key", "5.6.7.8"), limit=3) == 0  # another address has its own count
    assert limiter.hit(("other", "1.2.3.4"), limit=3) == 0  # and so has another key
    assert not limiter.is_shared


def test_thread_safe() -> None:
    limiter = RateLimiter()
    allowed: list[int] = []

    def hammer() -> None:
        for _ in range(100):
            if limiter.hit(("k",), limit=50) == 0:
                allowed.append(1)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 50


def test_limiters_on_one_redis_share_one_count(redis_prefix: str) -> None:
    first, second = (RateLimiter(REDIS_URL, key_prefix=redis_prefix) for _ in range(2))
    assert first.is_shared
    assert [first.hit(("key", "ip"), limit=4) for _ in range(2)] == [0, 0]
    assert [second.hit(("key", "ip"), limit=4) for _ in range(2)] == [0, 0]
    assert 1 <= first.hit(("key", "ip"), limit=4) <= 60
    assert 1 <= second.hit(("key", "ip"), limit=4) <= 60
    other_prefix = RateLimiter(REDIS_URL, key_prefix=f"{redis_prefix}-other")
    assert other_prefix.hit(("key", "ip"), limit=4) == 0


def test_an_unreachable_redis_fails_open_to_the_in_process_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = RateLimiter(UNREACHABLE_REDIS_URL)
    with caplog.at_level(logging.WARNING, logger="hub.http.rate_limit"):
        answers = [limiter.hit(("key", "ip"), limit=2) for _ in range(3)]
    assert answers[:2] == [0, 0]
    assert answers[2] >= 1  # still limited, per process
    [warning] = [r for r in caplog.records if "Redis is unreachable" in r.getMessage()]
    assert "counting in this process" in warning.getMessage()


@pytest.mark.anyio
async def test_two_app_instances_on_one_redis_share_the_widget_limit(
    db: Database, survey: SurveyPublic, post: Post, redis_prefix: str, monkeypatch: Any
) -> None:
    monkeypatch.setattr(
        "hub.surveys.api.RateLimiter", partial(RateLimiter, key_prefix=redis_prefix)
    )
    settings = Settings(database_url=db.url, redis_url=REDIS_URL, widget_rate_limit_per_minute=3)
    apps = [create_app(settings, engine=db.engine) for _ in range(2)]
    codes = []
    for attempt in range(4):  # alternate between two API processes, as a load balancer does
        transport = httpx.ASGITransport(app=apps[attempt % 2], client=("203.0.113.9", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
            codes.append((await post(http=http)).status_code)
    assert codes == [201, 201, 201, 429]
    assert redis.Redis.from_url(REDIS_URL).keys(f"{redis_prefix}*")  # counted in Redis
