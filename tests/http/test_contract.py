"""The OpenAPI contract: stable, readable operation ids and the one error body on every error."""

import re
from typing import Any

import httpx
import pytest

from hub.app import create_app
from hub.config import Settings
from hub.http.contract import DECLARED_ERRORS, ERROR_REF, OPERATION_IDS, PATTERN, ErrorResponse

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return create_app(Settings(database_url="sqlite://")).openapi()


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def test_operation_ids_are_named_unique_and_readable(schema: dict[str, Any]) -> None:
    ids = {(m, p): op["operationId"] for m, p, op in _operations(schema)}
    assert ids == OPERATION_IDS  # a new route needs a name here; a renamed one breaks clients
    assert len(set(ids.values())) == len(ids)
    assert all(re.fullmatch(PATTERN, name) for name in ids.values())
    assert set(DECLARED_ERRORS) <= set(ids.values())


def test_every_error_answer_has_the_real_error_body(schema: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for method, path, operation in _operations(schema):
        errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
        for status, response in errors.items():
            body = response["content"]["application/json"]["schema"]
            assert body == ERROR_REF, f"{method} {path} {status}"
            assert response["description"], f"{method} {path} {status}"


def test_errors_follow_from_auth_ids_bodies_and_declarations(schema: dict[str, Any]) -> None:
    statuses = {(m, p): set(op["responses"]) for m, p, op in _operations(schema)}
    assert {"401", "403", "404", "422"} <= statuses[("GET", "/api/v1/cases/{case_id}")]
    assert "404" not in statuses[("GET", "/api/v1/topics")]
    assert {"400", "413", "422", "503"} <= statuses[("POST", "/api/v1/routing/rules")]
    assert "409" in statuses[("POST", "/api/v1/users")]
    assert "409" not in statuses[("PATCH", "/api/v1/users/{user_id}")]
    assert {"401", "403"}.isdisjoint(statuses[("GET", "/healthz")])
    assert "429" in statuses[("POST", "/api/v1/responses")]


async def test_the_server_sends_the_documented_error_body(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    json = auth | {"Content-Type": "application/json"}
    answers = [
        await client.get("/api/v1/cases/1"),  # no key
        await client.get("/api/v1/users", headers=auth),  # no admin scope
        await client.get("/api/v1/cases/1", headers=auth),  # no such case
        await client.get("/api/v1/feedback?limit=0", headers=auth),  # invalid
        await client.post("/api/v1/feedback", headers=json, content=b"{"),  # not JSON
    ]
    assert [a.status_code for a in answers] == [401, 403, 404, 422, 400]
    for answer in answers:
        ErrorResponse.model_validate(answer.json())  # extra="forbid": exactly this shape
