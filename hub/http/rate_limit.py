"""A small in-process rate limiter: one token bucket per key (e.g. widget key + client IP).

It is per process: with N API processes a client may get up to N times the limit (a proxy or
the load balancer spreads it across them). Good enough to stop a runaway widget or a bot; a
shared limiter (Redis, the database) would be needed for an exact cluster-wide limit.
"""

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0
MAX_BUCKETS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``limit`` requests per minute per key: bursts up to ``limit``, refilled evenly.

    Thread-safe. Memory is bounded: past ``max_buckets`` keys the least recently used bucket
    is dropped (a dropped bucket starts full again, which only ever errs on the lenient side).
    """

    def __init__(
        self, *, max_buckets: int = MAX_BUCKETS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()
        self._lock = threading.Lock()
        self._max_buckets = max_buckets
        self._clock = clock

    def hit(self, key: Hashable, *, limit: int) -> int:
        """Take one request for ``key``: 0 if allowed, else the seconds until one would be."""
        rate = limit / WINDOW_SECONDS  # tokens per second
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=float(limit), updated=now)
                if len(self._buckets) > self._max_buckets:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(float(limit), bucket.tokens + elapsed * rate)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / rate))

    def __len__(self) -> int:
        return len(self._buckets)
