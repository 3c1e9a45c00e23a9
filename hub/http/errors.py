"""One error body everywhere: ``{"error": {"code", "message", "details"}}``."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from hub.errors import HubError

log = logging.getLogger(__name__)

# PostgreSQL's "try the transaction again" errors: a deadlock victim, a serialization failure.
RETRYABLE = {"40P01": "a deadlock", "40001": "a serialization failure"}
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_response(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    """The JSON error body with ``status``."""
    body = {"error": {"code": code, "message": message, "details": details}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Render domain errors, validation errors and HTTP errors the same way."""

    @app.exception_handler(HubError)
    async def hub_error(_request: Request, exc: HubError) -> JSONResponse:
        response = error_response(exc.status_code, exc.code, exc.message, exc.details)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(error["loc"]), "message": error["msg"].removeprefix("Value error, ")}
            for error in exc.errors()
        ]
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            return error_response(400, "malformed_json", "the body is not valid JSON", details)
        summary = "; ".join(f"{_path(d['loc'])}: {d['message']}" for d in details[:5])
        return error_response(422, "validation_error", summary, details)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        state = getattr(exc.orig, "sqlstate", None)
        if state not in RETRYABLE:
            return await unexpected(request, exc)
        log.warning("transaction rolled back (%s): %s %s", state, request.method, request.url.path)
        message = (
            f"the database rolled this change back after {RETRYABLE[state]} with a concurrent "
            "change; nothing of it was stored: send it again"
        )
        response = error_response(503, "try_again", message, {"sqlstate": state})
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        response = error_response(500, "internal_error", "internal error; see the server log")
        # Starlette re-raises the error after this response, and the server then closes the
        # connection: say so, so a keep-alive client does not send its next request into it.
        response.headers["Connection"] = "close"
        return response


def _path(loc: list[Any]) -> str:
    return ".".join(str(part) for part in loc)
