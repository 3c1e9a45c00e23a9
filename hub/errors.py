"""Domain errors. Services raise these; one handler in ``hub.app`` renders them as JSON."""

from typing import Any


class HubError(Exception):
    """Base of every error a service raises on purpose: a code, an HTTP status and details."""

    code = "error"
    status_code = 400

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers this error asks for (e.g. ``Retry-After``)."""
        return {}


class BadRequest(HubError):
    code = "bad_request"
    status_code = 400


class MalformedJson(BadRequest):
    code = "malformed_json"


class NotFound(HubError):
    code = "not_found"
    status_code = 404


class InvalidInput(HubError):
    code = "invalid_input"
    status_code = 422


class Unauthorized(HubError):
    code = "unauthorized"
    status_code = 401


class Forbidden(HubError):
    code = "forbidden"
    status_code = 403


class PayloadTooLarge(HubError):
    code = "payload_too_large"
    status_code = 413


class Conflict(HubError):
    code = "conflict"
    status_code = 409


class UnsupportedMediaType(HubError):
    code = "unsupported_media_type"
    status_code = 415


class RateLimited(HubError):
    """Too many requests: try again after ``retry_after`` seconds."""

    code = "rate_limited"
    status_code = 429

    def __init__(self, message: str, *, retry_after: int, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        """``Retry-After`` in whole seconds."""
        return {"Retry-After": str(self.retry_after)}
