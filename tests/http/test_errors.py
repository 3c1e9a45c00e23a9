"""Database errors a client can fix by sending again answer 503 + Retry-After, not 500."""

import httpx
import psycopg.errors
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from hub.http.errors import install_error_handlers

pytestmark = pytest.mark.anyio


def _app(error: BaseException) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/change")
    def change() -> None:
        raise OperationalError("UPDATE …", {}, error)

    return app


async def _post(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        return await client.post("/change")


@pytest.mark.parametrize(
    ("error", "state"),
    [(psycopg.errors.DeadlockDetected("deadlock detected"), "40P01"),
     (psycopg.errors.SerializationFailure("could not serialize"), "40001")],
)  # fmt: skip
async def test_a_deadlock_victim_is_told_to_send_again(error: BaseException, state: str) -> None:
    response = await _post(_app(error))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    body = response.json()["error"]
    assert body["code"] == "try_again" and body["details"] == {"sqlstate": state}
    assert "send it again" in body["message"]


async def test_other_database_errors_stay_internal_errors() -> None:
    response = await _post(_app(psycopg.errors.UndefinedTable("no such table")))
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
