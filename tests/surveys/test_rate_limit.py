"""The in-process token bucket: bursts up to the limit, refills evenly, bounded, thread-safe."""

import threading

from hub.http.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_per_minute_then_retry_after() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    assert [limiter.hit("a", limit=3) for _ in range(3)] == [0, 0, 0]
    assert limiter.hit("a", limit=3) == 20  # one token every 20 s
    clock.now += 10
    assert limiter.hit("a", limit=3) == 10
    clock.now += 10
    assert limiter.hit("a", limit=3) == 0
    assert limiter.hit("b", limit=3) == 0  # another key has its own bucket


def test_buckets_are_bounded() -> None:
    limiter = RateLimiter(max_buckets=10)
    for n in range(100):
        limiter.hit(n, limit=5)
    assert len(limiter) == 10


def test_thread_safe() -> None:
    limiter = RateLimiter(clock=Clock())
    allowed: list[int] = []

    def hammer() -> None:
        for _ in range(100):
            if limiter.hit("k", limit=50) == 0:
                allowed.append(1)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 50
