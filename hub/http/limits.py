"""A request-body size limit, enforced before the app reads the body."""

from starlette.types import ASGIApp, Receive, Scope, Send

from hub.http.errors import error_response
from hub.http.middleware import BodyTooLarge, HttpMiddleware, read_body, replaying


class BodySizeLimit(HttpMiddleware):
    """Answer 413 for bodies over ``max_bytes``: by Content-Length, or by reading at most that.

    Bodies without a Content-Length (chunked) are read here up to the limit and replayed to
    the app, so the app never sees a partial body and memory stays bounded.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.max_bytes:
                await self._reject(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive, limit=self.max_bytes)
        except BodyTooLarge:
            await self._reject(scope, receive, send)
            return
        if body is not None:  # else the client went away
            await self.app(scope, replaying(body, receive), send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"the request body is larger than the limit of {self.max_bytes} bytes"
        response = error_response(413, "payload_too_large", message)
        await response(scope, receive, send)
