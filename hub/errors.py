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
