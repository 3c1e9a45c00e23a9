"""The admin System page through the ASGI app: who may see it, workers, queues, runs, schema."""

import re
from datetime import timedelta

import httpx
import pytest

from hub.feedback.service import ingest
from hub.observability.models import WorkerHeartbeat
from hub.observability.readiness import script_head
from hub.sources.models import Source, SourceRun
from hub.store.engine import session_scope
from hub.store.types import utcnow
from hub.users.models import Role
from tests.conftest import Database
from tests.factories import item
from tests.signin import sign_in

pytestmark = pytest.mark.anyio
HOSTILE = '<img src=x onerror="window.__pwned = 1">'


def text_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">(.*?)</dd>', html, re.S)
    assert match is not None, element_id
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


@pytest.mark.parametrize("role", list(Role))
async def test_only_admins_see_the_system_page(
    client: httpx.AsyncClient, db: Database, role: Role
) -> None:
    await sign_in(client, db.engine, role)
    page = await client.get("/admin/system")
    if role == Role.admin:
        assert page.status_code == 200
        assert 'href="/admin/system" aria-current="page"' in page.text
    else:
        assert page.status_code == 403
    if role == Role.lead:
        assert 'href="/admin/system"' not in (await client.get("/admin/rules")).text


async def test_shows_workers_queues_runs_and_schema(
    client: httpx.AsyncClient, db: Database
) -> None:
    with session_scope(db.engine) as session:
        ingest(session, raw_items=[item(), item(), item()])
        session.add(WorkerHeartbeat(owner="a:11:aaaaaa", hostname="worker-a", pid=11,
                                    roles="nlp,collect,notify", last_batch_at=utcnow(),
                                    last_batch_items=64, last_batch_seconds=2.25))  # fmt: skip
        session.add(WorkerHeartbeat(owner="b:22:bbbbbb", hostname="worker-b", pid=22, roles="nlp",
                                    beat_at=utcnow() - timedelta(hours=1)))  # fmt: skip
        source = Source(kind="hackernews", name="HN mentions")
        session.add(source)
        session.flush()
        assert source.id is not None
        session.add(SourceRun(source_id=source.id, owner="a", status="failed",
                              finished_at=utcnow(), error=f"HTTP 503 {HOSTILE}"))  # fmt: skip
    await sign_in(client, db.engine, Role.admin)
    page = await client.get("/admin/system")
    assert page.status_code == 200
    html = page.text
    assert text_of(html, "nlp-pending") == "3" and text_of(html, "nlp-failed") == "0"
    assert text_of(html, "outbox-pending") == "0" and text_of(html, "outbox-failed") == "0"
    assert text_of(html, "db-backend") == db.backend
    assert text_of(html, "db-revision") == script_head()
    rows = re.findall(r'<tr class="worker (\w+)">\s*<th scope="row">([^<]+)</th>', html)
    assert rows == [("alive", "worker-a"), ("stale", "worker-b")]
    assert "64 items in 2.2 s" in html
    assert "HN mentions" in html and "HTTP 503" in html
    assert HOSTILE not in html and "&lt;img" in html  # escaped


async def test_an_empty_hub_says_no_worker_reported(
    client: httpx.AsyncClient, db: Database
) -> None:
    await sign_in(client, db.engine, Role.admin)
    html = (await client.get("/admin/system")).text
    assert "No worker has reported" in html and "No collector has run yet" in html
