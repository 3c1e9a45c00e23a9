"""Schemathesis over the app's own ``/openapi.json``, on SQLite and on PostgreSQL: no input gets
a server error, and every answer is one the schema documents, in the documented shape."""

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from hub.auth.service import create_key
from hub.store.engine import session_scope
from tests.conftest import Database

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(app):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture
def admin_auth(db: Database) -> dict[str, str]:
    """A key with every scope: the schema has no pages, so no signed-in session is needed."""
    with session_scope(db.engine) as session:
        key = create_key(session, name="schemathesis", scopes=["ingest", "read", "admin"]).key
    return {"Authorization": f"Bearer {key}"}


# Per operation and backend: a bounded, seeded run (5 examples per operation).
SETTINGS = settings(
    max_examples=5,
    derandomize=True,  # the same inputs on every run
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def test_the_api_keeps_its_contract(api_schema, admin_auth: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    failures = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @SETTINGS
        @given(case=operation.as_strategy())
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=admin_auth, checks=CHECKS)

        try:
            call()
        except (FailureGroup, Exception) as exc:  # a FailureGroup is no Exception
            failures.append(f"{operation.label}: {type(exc).__name__}: {exc}")
    assert not failures, f"{len(failures)} operations broke the contract:\n" + "\n".join(failures)
