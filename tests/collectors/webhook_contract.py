"""The behaviour every inbound (webhook) collector must show, through the real HTTP endpoint.

A subclass gives the source's config (with its signing secret), a payload in the sender's
documented shape and the headers that sign a body. The contract posts to
``POST /api/v1/webhooks/{name}`` of a real app on a real SQLite file: signed deliveries are
stored once however often they come, and bad or unsigned ones are refused with nothing stored.
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from hub.app import create_app
from hub.config import Settings
from hub.feedback.models import Feedback
from hub.sources.models import SourceCreate, SourceUpdate
from hub.sources.service import create_source, update_source
from hub.store.engine import session_scope
from tests.collectors.contract import NON_ASCII
from tests.conftest import Database

WHEN = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


class WebhookContract:
    """Subclass with kind, config, payload, sign and record_id; check_item may add checks."""

    kind: ClassVar[str]
    source_name = "hook-source"

    def config(self) -> dict[str, Any]:
        raise NotImplementedError

    def payload(self, n: int, text: str, when: datetime) -> dict[str, Any]:
        """A delivery body in the sender's documented shape, for response ``n``."""
        raise NotImplementedError

    def sign(self, body: bytes, *, n: int = 0) -> dict[str, str]:
        """Headers that sign ``body`` as the sender would (with the configured secret)."""
        raise NotImplementedError

    def record_id(self, n: int) -> str:
        """The external_id stored for response ``n``."""
        raise NotImplementedError

    def check_item(self, stored: Feedback, n: int, text: str) -> None:
        """Source-specific checks of a stored item."""

    # -- fixtures and helpers -------------------------------------------------------------

    @pytest.fixture
    def hub(self, collector_db: Database) -> Iterator[TestClient]:
        with session_scope(collector_db.engine) as session:
            create_source(
                session,
                data=SourceCreate(kind=self.kind, name=self.source_name, config=self.config()),
            )
        app = create_app(Settings(database_url=collector_db.url), engine=collector_db.engine)
        with TestClient(app) as client:
            yield client

    def post(self, hub: TestClient, body: bytes, headers: dict[str, str]) -> Any:
        headers = {"Content-Type": "application/json", **headers}
        return hub.post(f"/api/v1/webhooks/{self.source_name}", content=body, headers=headers)

    def deliver(self, hub: TestClient, n: int, text: str) -> Any:
        body = json.dumps(self.payload(n, text, WHEN)).encode()
        return self.post(hub, body, self.sign(body, n=n))

    def stored(self, db: Database) -> list[Feedback]:
        with session_scope(db.engine) as session:
            return list(session.exec(select(Feedback).order_by(col(Feedback.id))).all())

    # -- the contract ---------------------------------------------------------------------

    def test_a_signed_delivery_is_stored(self, hub: TestClient, collector_db: Database) -> None:
        text = "The courier left the bag at the wrong door"
        response = self.deliver(hub, 1, text)
        assert response.status_code == 200, response.text
        assert response.json()["created"] == 1
        [row] = self.stored(collector_db)
        assert row.external_id == self.record_id(1) and row.text == text
        self.check_item(row, 1, text)

    def test_a_redelivery_is_stored_once(self, hub: TestClient, collector_db: Database) -> None:
        first = self.deliver(hub, 2, "Checkout kept failing")
        again = self.deliver(hub, 2, "Checkout kept failing")
        assert first.json()["created"] == 1
        assert (again.status_code, again.json()["created"], again.json()["duplicate"]) == (
            200, 0, 1,
        )  # fmt: skip
        assert len(self.stored(collector_db)) == 1

    def test_a_tampered_body_is_refused(self, hub: TestClient, collector_db: Database) -> None:
        body = json.dumps(self.payload(3, "Genuine words", WHEN)).encode()
        headers = self.sign(body, n=3)
        forged = body.replace(b"Genuine", b"Forged!")
        response = self.post(hub, forged, headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert self.stored(collector_db) == []

    def test_an_unsigned_delivery_is_refused(self, hub: TestClient, collector_db: Database) -> None:
        body = json.dumps(self.payload(4, "No signature here", WHEN)).encode()
        response = self.post(hub, body, {})
        assert response.status_code == 401
        assert self.stored(collector_db) == []

    def test_a_body_that_is_not_json_is_422(self, hub: TestClient, collector_db: Database) -> None:
        body = b"<html>not json</html>"
        response = self.post(hub, body, self.sign(body))
        assert response.status_code == 422
        assert "not JSON" in response.json()["error"]["message"]

    def test_a_payload_of_another_shape_is_422(
        self, hub: TestClient, collector_db: Database
    ) -> None:
        body = json.dumps({"hello": "world"}).encode()
        response = self.post(hub, body, self.sign(body))
        assert response.status_code == 422, response.text
        assert self.stored(collector_db) == []

    def test_empty_text_is_not_an_error(self, hub: TestClient, collector_db: Database) -> None:
        response = self.deliver(hub, 5, "")
        assert response.status_code == 200, response.text
        for row in self.stored(collector_db):
            assert row.text or row.title or row.score is not None

    def test_non_ascii_text_is_kept_exactly(self, hub: TestClient, collector_db: Database) -> None:
        for n, text in enumerate(NON_ASCII, start=10):
            assert self.deliver(hub, n, text).status_code == 200
        assert [row.text for row in self.stored(collector_db)] == NON_ASCII

    def test_unknown_and_disabled_sources(self, hub: TestClient, collector_db: Database) -> None:
        body = json.dumps(self.payload(6, "Hello", WHEN)).encode()
        unknown = hub.post("/api/v1/webhooks/nope", content=body, headers=self.sign(body, n=6))
        assert unknown.status_code == 404
        with session_scope(collector_db.engine) as session:
            update_source(session, name=self.source_name, changes=SourceUpdate(enabled=False))
        assert self.post(hub, body, self.sign(body, n=6)).status_code == 403
        assert self.stored(collector_db) == []
