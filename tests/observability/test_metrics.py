"""GET /metrics: request counts by route template, ingest counts, queue depths from the rows."""

import re

import httpx
import pytest
from pydantic import SecretStr

from hub.app import create_app
from hub.feedback.models import Feedback
from hub.notifications.models import OutboxMessage
from hub.observability.queues import queue_depths
from hub.sources.models import Source, SourceRun
from hub.store.engine import session_scope
from hub.store.types import utcnow
from tests.conftest import Database
from tests.factories import item

pytestmark = pytest.mark.anyio
TEXT_FORMAT = "text/plain"


def sample(body: str, name: str, **labels: str) -> float:
    """The value of one sample in the text format; 0 when absent."""
    for line in body.splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if found == labels:
            return float(match.group(3))
    return 0.0


async def test_metrics_count_a_request_by_its_route_template(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    before = (await client.get("/metrics")).text
    route = "/api/v1/feedback/{feedback_id}"
    counted = sample(before, "hub_http_requests_total", method="GET", route=route, status="404")
    missing = await client.get("/api/v1/feedback/987654", headers=auth)
    assert missing.status_code == 404
    after = await client.get("/metrics")
    assert after.status_code == 200
    assert after.headers["content-type"].startswith(TEXT_FORMAT)
    labels = {"method": "GET", "route": route, "status": "404"}
    assert sample(after.text, "hub_http_requests_total", **labels) == counted + 1
    assert sample(after.text, "hub_http_request_duration_seconds_count", method="GET",
                  route=route) >= 1  # fmt: skip
    assert "/api/v1/feedback/987654" not in after.text  # no raw paths: no id cardinality


async def test_unmatched_paths_share_one_label(client: httpx.AsyncClient) -> None:
    await client.get("/no/such/page-12345")
    body = (await client.get("/metrics")).text
    assert sample(body, "hub_http_requests_total", method="GET", route="unmatched", status="404")
    assert "page-12345" not in body


async def test_ingest_counts_new_items_by_source_kind(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    before = sample((await client.get("/metrics")).text, "hub_items_ingested_total",
                    source_kind="api")  # fmt: skip
    sent = [item(), item()]
    created = await client.post("/api/v1/feedback", json={"items": sent}, headers=auth)
    assert created.status_code == 200, created.text
    again = await client.post("/api/v1/feedback", json={"items": sent}, headers=auth)
    assert again.status_code == 200  # duplicates are not new items
    after = sample((await client.get("/metrics")).text, "hub_items_ingested_total",
                   source_kind="api")  # fmt: skip
    assert after == before + 2


async def test_queue_gauges_match_the_rows(client: httpx.AsyncClient, db: Database) -> None:
    with session_scope(db.engine) as session:
        source = Source(kind="api", name="gauges")
        session.add(source)
        session.flush()
        assert source.id is not None
        for n, state in enumerate(["pending"] * 3 + ["failed"] * 2 + ["done"]):
            session.add(Feedback(source_id=source.id, external_id=f"g-{n}", channel="survey",
                                 text="x", created_at=utcnow(), received_at=utcnow(),
                                 content_hash=f"h{n}", nlp_state=state))  # fmt: skip
        for n, status in enumerate(["pending", "pending", "sending", "failed", "sent"]):
            session.add(OutboxMessage(channel="email", destination=f"a{n}@x.example",
                                      body={"text": "t"}, event_type="case.created",
                                      status=status))  # fmt: skip
        session.add(SourceRun(source_id=source.id, owner="w", status="failed"))
        session.add(SourceRun(source_id=source.id, owner="w", status="ok"))
    body = (await client.get("/metrics")).text
    assert sample(body, "hub_database_up") == 1
    assert sample(body, "hub_nlp_queue_items", state="pending") == 3
    assert sample(body, "hub_nlp_queue_items", state="failed") == 2
    assert sample(body, "hub_outbox_messages", status="pending") == 2
    assert sample(body, "hub_outbox_messages", status="failed") == 1
    assert sample(body, "hub_collector_runs_24h", status="failed") == 1
    assert sample(body, "hub_collector_runs_24h", status="ok") == 1
    with session_scope(db.engine) as session:
        depths = queue_depths(session)
    assert depths.nlp == {"pending": 3, "failed": 2}
    assert depths.outbox == {"pending": 2, "failed": 1}


async def test_metrics_token_is_required_when_set(db: Database) -> None:
    from hub.config import Settings

    settings = Settings(database_url=db.url, metrics_token=SecretStr("s3cret-token"))
    transport = httpx.ASGITransport(app=create_app(settings, engine=db.engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        refused = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        allowed = await http.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert refused.status_code == wrong.status_code == 401
    assert refused.json()["error"]["code"]
    assert allowed.status_code == 200
    assert "hub_nlp_queue_items" in allowed.text


async def test_an_unreachable_database_is_a_gauge_not_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hub.config import Settings
    from hub.store.engine import make_engine

    url = f"sqlite:///{tmp_path / 'missing' / 'hub.db'}"
    engine = make_engine(url)
    transport = httpx.ASGITransport(app=create_app(Settings(database_url=url), engine=engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        scraped = await http.get("/metrics")
    engine.dispose()
    assert scraped.status_code == 200
    assert sample(scraped.text, "hub_database_up") == 0
