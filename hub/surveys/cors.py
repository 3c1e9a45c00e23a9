"""CORS and the 16 KB body limit for the widget's public routes (and only those).

Preflights carry no key, so they are allowed for any origin that some active survey's key
allows; the route itself then holds each request to its own key's origins (403 otherwise).
Every response on these routes to such an origin, errors included, carries the CORS headers, so
the widget can read a 4xx or a 429's ``Retry-After`` instead of seeing a network error.
"""

import threading
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.http.limits import BodySizeLimit
from hub.store.engine import session_scope
from hub.surveys.cache import TTL_SECONDS, generation, invalidate_widget_caches
from hub.surveys.models import normalised_origin
from hub.surveys.service import active_widget_origins

RESPONSES_PATH = "/api/v1/responses"
CONFIG_PATH = "/api/v1/widget/config"
WIDGET_PATHS = frozenset({RESPONSES_PATH, CONFIG_PATH})
WIDGET_MAX_BODY_BYTES = 16 * 1024
PREFLIGHT_MAX_AGE = 86_400
PREFLIGHT_HEADERS = [
    (b"access-control-allow-methods", b"GET, POST"),
    (b"access-control-allow-headers", b"Content-Type, Idempotency-Key"),
    (b"access-control-max-age", str(PREFLIGHT_MAX_AGE).encode()),
]
# Read by widget.js (429 and the error body are readable anyway: CORS-safelisted or the body).
EXPOSE_HEADERS = (b"access-control-expose-headers", b"Retry-After")
VARY = (b"vary", b"Origin")


class _OriginCache:
    """The allowed origins of active widget keys, reloaded at most every few seconds.

    Changes made in this process show at once (see ``hub.surveys.cache``); those made elsewhere
    (the CLI, another API process) within ``TTL_SECONDS``.
    """

    def __init__(self) -> None:
        self._origins: frozenset[str] = frozenset()
        self._loaded_at = -1e18
        self._loaded_generation = -1
        self._lock = threading.Lock()

    def cached(self) -> frozenset[str] | None:
        """The origins if still fresh (no database call), else None."""
        return self._origins if self._fresh() else None

    def _fresh(self) -> bool:
        age = time.monotonic() - self._loaded_at
        return age < TTL_SECONDS and self._loaded_generation == generation()

    def origins(self, engine: Any) -> frozenset[str]:
        if self._fresh():
            return self._origins
        with self._lock:
            if not self._fresh():
                loaded_under = generation()  # read before loading: a change during it wins
                with session_scope(engine) as session:
                    self._origins = frozenset(active_widget_origins(session))
                self._loaded_at = time.monotonic()
                self._loaded_generation = loaded_under
        return self._origins


def invalidate_widget_origins() -> None:
    """Surveys or keys changed in this process: reload the origins on the next request."""
    invalidate_widget_caches()


class WidgetCors:
    """Preflights, CORS headers and the body limit for ``WIDGET_PATHS``; other paths pass."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.limited = BodySizeLimit(app, max_bytes=WIDGET_MAX_BODY_BYTES)
        self.cache = _OriginCache()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in WIDGET_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        allowed = origin is not None and await self._allowed(scope, origin.decode("latin-1"))
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await self._preflight(scope, receive, send, origin if allowed else None)
            return
        inner = self.limited if scope["method"] == "POST" else self.app
        # Vary on every answer: a shared cache must not give one origin's answer to another.
        extra = _cors_headers(origin) if allowed and origin is not None else [VARY]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await inner(scope, receive, send_with_cors)

    async def _allowed(self, scope: Scope, origin: str) -> bool:
        try:
            normalised = normalised_origin(origin)
        except ValueError:
            return False
        origins = self.cache.cached()
        if origins is None:  # a database call: off the event loop
            origins = await run_in_threadpool(self.cache.origins, scope["app"].state.engine)
        return normalised in origins

    async def _preflight(
        self, scope: Scope, receive: Receive, send: Send, origin: bytes | None
    ) -> None:
        if origin is None:  # no CORS headers: the browser refuses the request
            await Response(status_code=204, headers={"Vary": "Origin"})(scope, receive, send)
            return
        response = Response(status_code=204)
        response.raw_headers.extend([*_cors_headers(origin), *PREFLIGHT_HEADERS])
        await response(scope, receive, send)


def _cors_headers(origin: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"access-control-allow-origin", origin), VARY, EXPOSE_HEADERS]
