"""``X-Request-ID``: taken from the caller (a proxy's) when sane, made up otherwise, sent back
in the response, and bound to every log line written while the request runs."""

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send
from structlog.contextvars import bound_contextvars

from hub.http.middleware import HttpMiddleware

HEADER = "X-Request-ID"
# What a caller may choose: short, and nothing that could forge a log line or a header.
ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestId(HttpMiddleware):
    """The request id middleware (outermost, so error pages carry the header too)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = incoming(scope) or uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        with bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)


def incoming(scope: Scope) -> str | None:
    """The caller's request id, if it has an acceptable form."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if ACCEPTED.fullmatch(text) else None
    return None
