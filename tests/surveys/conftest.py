"""Fixtures for surveys and the widget: an admin key, a survey, and a widget post helper."""

import itertools
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest

from hub.auth.service import create_key
from hub.store.engine import session_scope
from hub.surveys.models import SurveyCreate, SurveyPublic
from hub.surveys.service import create_survey
from tests.conftest import Database

ORIGIN = "https://shop.example.com"
OTHER_ORIGIN = "https://blog.example.org"
_counter = itertools.count(1)

Post = Callable[..., Coroutine[Any, Any, httpx.Response]]


def idempotency_key() -> str:
    """A fresh widget-made idempotency key."""
    return f"idem-{next(_counter):08d}"


def make_survey(db: Database, **fields: Any) -> SurveyPublic:
    """A survey made through the service (as the CLI and API do)."""
    data: dict[str, Any] = {
        "name": "Checkout NPS",
        "type": "nps",
        "question": {"en": "How likely are you to recommend us?", "es": "¿Nos recomendarías?"},
        "allowed_origins": [ORIGIN],
    }
    data.update(fields)
    with session_scope(db.engine) as session:
        return create_survey(
            session, data=SurveyCreate.model_validate(data), hub_url="https://hub.example.com"
        )


@pytest.fixture
def admin_auth(db: Database) -> dict[str, str]:
    with session_scope(db.engine) as session:
        key = create_key(session, name="admin", scopes=["admin"]).key
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def survey(db: Database) -> SurveyPublic:
    return make_survey(db)


@pytest.fixture
def post(client: httpx.AsyncClient, survey: SurveyPublic) -> Post:
    """POST /api/v1/responses as the widget would, with overridable body and headers."""

    async def send(
        body: dict[str, Any] | None = None,
        *,
        idem: str | None = None,
        origin: str | None = ORIGIN,
        http: httpx.AsyncClient | None = None,
        **fields: Any,
    ) -> httpx.Response:
        payload = body if body is not None else {"key": survey.key, "score": 9, **fields}
        headers = {"Idempotency-Key": idem or idempotency_key()}
        if origin is not None:
            headers["Origin"] = origin
        return await (http or client).post("/api/v1/responses", json=payload, headers=headers)

    return send
