"""The HTTP transport collectors pull through: retries, back-off, ``Retry-After``, rate limits.

Collectors make plain requests; this transport, under the runner's client, retries timeouts,
network errors, 429 and 5xx with jittered exponential back-off (tenacity), waits what a
``Retry-After`` header asks, and holds back the next request to a host whose rate-limit
headers say the budget is spent until the window resets. A wait longer than ``max_wait`` is
not slept through: the response goes back (or ``RateLimited`` is raised) and the runner
reschedules the source for then.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_random_exponential,
)

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
# Reddit, Mastodon, Intercom: X-RateLimit-*; Zendesk: X-Rate-Limit-*; Bluesky: RateLimit-*.
REMAINING_HEADERS = ("x-ratelimit-remaining", "x-rate-limit-remaining", "ratelimit-remaining")
RESET_HEADERS = ("x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset")

Sleep = Callable[[float], Awaitable[None]]


class RateLimited(Exception):
    """The source asked to wait longer than a run is willing to: try again at ``retry_at``."""

    def __init__(self, host: str, retry_at: float) -> None:
        super().__init__(f"{host} asked to wait {retry_at - time.time():.0f} s (rate limit)")
        self.retry_at = retry_at


def retry_after_seconds(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta seconds or an HTTP date), if any."""
    value = headers.get("retry-after")
    if not value:
        return None
    now = time.time() if now is None else now
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def rate_limit_reset_at(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """When the budget resets, if the headers say it is spent (epoch seconds), else None.

    Reset values come as seconds from now (Reddit), epoch seconds (Intercom, GitHub-style) or an
    ISO 8601 timestamp (Mastodon).
    """
    remaining = next((headers[h] for h in REMAINING_HEADERS if h in headers), None)
    try:
        if remaining is None or float(remaining) >= 1:
            return None
    except ValueError:
        return None
    now = time.time() if now is None else now
    reset = next((headers[h] for h in RESET_HEADERS if h in headers), None)
    if reset is None:
        return now + 60.0  # spent, with no reset given: a minute is the common window
    try:
        number = float(reset)
    except ValueError:
        try:
            return datetime.fromisoformat(reset.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return now + 60.0
    return number if number > 1_000_000_000 else now + number


class RetryingTransport(httpx.AsyncBaseTransport):
    """Wraps another transport with retries and rate-limit pacing (see the module docstring)."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        attempts: int = 5,
        base_wait: float = 1.0,
        max_wait: float = 60.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.inner = inner
        self.attempts = attempts
        self.base_wait = base_wait
        self.max_wait = max_wait
        self.sleep = sleep
        self.waits: list[float] = []  # every pause taken, for the run's log and for tests
        self._paused_until: dict[str, float] = {}
        self._backoff = wait_random_exponential(multiplier=base_wait, max=max_wait)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, retrying what is transient; the last response or error wins."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(TRANSIENT_ERRORS) | retry_if_result(self._retryable),
            retry_error_callback=_last_outcome,
            sleep=self._pause,
            reraise=True,
        )
        response: httpx.Response = await retrying(self._send, request)
        return response

    async def _send(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        resume_at = self._paused_until.get(host, 0.0)
        if resume_at > time.time():
            if resume_at - time.time() > self.max_wait:
                raise RateLimited(host, resume_at)
            await self._pause(resume_at - time.time())
        response = await self.inner.handle_async_request(request)
        reset_at = rate_limit_reset_at(response.headers)
        if reset_at is not None:
            self._paused_until[host] = reset_at
        if response.status_code in RETRY_STATUSES:
            await response.aread()  # a response we may drop must not hold its connection
        return response

    def _retryable(self, response: httpx.Response) -> bool:
        if response.status_code not in RETRY_STATUSES:
            return False
        asked = retry_after_seconds(response.headers)
        return asked is None or asked <= self.max_wait

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            asked = retry_after_seconds(outcome.result().headers)
            if asked is not None:
                return asked
        return float(self._backoff(state))

    async def _pause(self, seconds: float) -> None:
        self.waits.append(seconds)
        await self.sleep(seconds)

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()


def _last_outcome(state: RetryCallState) -> httpx.Response:
    """Out of attempts on a retryable status: hand the last response to the caller."""
    assert state.outcome is not None
    response: httpx.Response = state.outcome.result()
    return response
