"""Security headers for HTML pages: a strict Content-Security-Policy and friends."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline script or style anywhere; every asset is served by the hub itself.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Adds the headers to every HTML response except the API docs (Swagger UI needs inline JS)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ("/docs", "/redoc"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                if headers.get(b"content-type", b"").startswith(b"text/html"):
                    message["headers"] = [*message.get("headers", []), *HEADERS]
                else:
                    message["headers"] = [*message.get("headers", []), HEADERS[1]]
            await send(message)

        await self.app(scope, receive, send_with_headers)
