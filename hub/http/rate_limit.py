"""The widget rate limit: the ``limits`` library's sliding window, in process or on Redis.

In process (``MemoryStorage``) by default: with N API processes a client may get up to N times
the limit. With ``HUB_REDIS_URL`` every process on every host counts in one Redis, so the limit
is cluster-wide.

If Redis does not answer, the limiter fails *open to the in-process count*: a cache outage must
not turn customers' feedback away, and the per-process limit still stops a runaway widget or a
bot. The outage is logged, and Redis is tried again after ``REDIS_RETRY_SECONDS``.
"""

import logging
import math
import threading
import time

from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

log = logging.getLogger(__name__)

REDIS_RETRY_SECONDS = 30.0
# A request waits at most this long on Redis before the in-process count takes over.
REDIS_TIMEOUT_SECONDS = 0.25
KEY_PREFIX = "feedback-hub:rate"


class RateLimiter:
    """``limit`` requests per minute per key (a sliding window), shared through Redis if given."""

    def __init__(self, redis_url: str = "", *, key_prefix: str = KEY_PREFIX) -> None:
        self._local = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._shared: SlidingWindowCounterRateLimiter | None = None
        if redis_url:
            storage = storage_from_string(
                redis_url,
                key_prefix=key_prefix,
                wrap_exceptions=True,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            if not isinstance(storage, Storage):  # async+redis:// is for asyncio code
                raise ValueError(f"not a synchronous storage URL: {redis_url!r}")
            self._shared = SlidingWindowCounterRateLimiter(storage)
        self._shared_down_until = 0.0
        self._lock = threading.Lock()

    @property
    def is_shared(self) -> bool:
        """True when the count lives in Redis (a network round trip per hit)."""
        return self._shared is not None

    def hit(self, key: tuple[object, ...], *, limit: int) -> int:
        """Take one request for ``key``: 0 if allowed, else the seconds until one would be."""
        item = RateLimitItemPerMinute(limit)
        identifiers = [str(part) for part in key]
        strategy = self._strategy()
        try:
            if strategy.hit(item, *identifiers):
                return 0
            reset_at = strategy.get_window_stats(item, *identifiers).reset_time
        except StorageError as exc:
            self._fall_back(exc)
            return self.hit(key, limit=limit)
        return max(1, math.ceil(reset_at - time.time()))

    def _strategy(self) -> SlidingWindowCounterRateLimiter:
        if self._shared is not None and time.monotonic() >= self._shared_down_until:
            return self._shared
        return self._local

    def _fall_back(self, exc: StorageError) -> None:
        with self._lock:
            if time.monotonic() < self._shared_down_until:
                return
            self._shared_down_until = time.monotonic() + REDIS_RETRY_SECONDS
        log.warning(
            "rate limit: Redis is unreachable (%s); counting in this process for %.0f s",
            exc.storage_error,
            REDIS_RETRY_SECONDS,
        )
