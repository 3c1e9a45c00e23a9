"""The enrichment status on both backends: sentiment on, off, partly off; the queue; the cache."""

from datetime import UTC, datetime

import httpx
import pytest

from hub.auth.service import create_key
from hub.enrichment import status as status_module
from hub.enrichment.status import (
    NlpStatus,
    NlpStatusCache,
    SentimentState,
    has_sentiment,
    nlp_status,
)
from hub.feedback.models import Feedback
from hub.store.engine import session_scope
from hub.users.models import Role
from tests.conftest import Database
from tests.enrichment.states import WITH, WITHOUT, enrich, fail, seed
from tests.signin import sign_in


def read(db: Database) -> NlpStatus:
    with session_scope(db.engine) as session:
        return nlp_status(session)


def test_an_empty_hub_is_idle(db: Database) -> None:
    status = read(db)
    assert status.sentiment is SentimentState.idle and not status.sentiment_off
    assert (status.checked, status.without_sentiment, status.streak) == (0, 0, 0)
    assert status.model is None and status.since is None and status.created_from is None
    assert (status.pending, status.failed) == (0, 0)


def test_pending_items_alone_are_idle_and_counted(db: Database) -> None:
    ids = seed(db, 5)
    fail(db, ids[:2])
    status = read(db)
    assert status.sentiment is SentimentState.idle
    assert (status.pending, status.failed) == (3, 2)


def test_items_with_sentiment_are_ok(db: Database) -> None:
    ids = seed(db, 4)
    enrich(db, ids[:3], WITH)
    status = read(db)
    assert status.sentiment is SentimentState.ok and not status.sentiment_off
    assert (status.checked, status.without_sentiment, status.streak) == (3, 0, 0)
    assert status.model == WITH
    assert (status.pending, status.failed) == (1, 0)


def test_the_newest_items_without_sentiment_turn_it_off(db: Database) -> None:
    before = seed(db, 3, day=1)
    after = seed(db, 4, day=2)
    enrich(db, before, WITH)
    enrich(db, after, WITHOUT)
    status = read(db)
    assert status.sentiment is SentimentState.off and status.sentiment_off
    assert (status.checked, status.without_sentiment, status.streak) == (7, 4, 4)
    assert status.model == WITHOUT
    assert status.created_from == datetime(2026, 11, 2, 10, tzinfo=UTC)
    with session_scope(db.engine) as session:
        first = session.get(Feedback, after[0])
        assert first is not None
        assert status.since == first.received_at
    assert not status.streak_capped


def test_a_fix_leaves_the_others_partial(db: Database) -> None:
    ids = seed(db, 5)
    enrich(db, ids[:2], WITH)
    enrich(db, ids[2:4], WITHOUT)
    enrich(db, ids[4:], WITH)  # the newest has sentiment again
    status = read(db)
    assert status.sentiment is SentimentState.partial and not status.sentiment_off
    assert (status.checked, status.without_sentiment, status.streak) == (5, 2, 0)
    assert status.since is None and status.created_from is None
    assert status.model == WITH


def test_a_done_item_without_a_recorded_model_counts_as_without(db: Database) -> None:
    [only] = seed(db, 1)
    enrich(db, [only], None)
    status = read(db)
    assert status.sentiment_off and status.model is None and status.streak == 1


def test_only_the_newest_window_is_read_and_counts_are_capped(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status_module, "WINDOW", 3)
    monkeypatch.setattr(status_module, "COUNT_LIMIT", 2)
    ids = seed(db, 9)
    enrich(db, ids[:2], WITH)
    enrich(db, ids[2:6], WITHOUT)
    # three pending (ids[6:]) are newer than every done item: the window skips them
    status = read(db)
    assert (status.checked, status.without_sentiment, status.streak) == (3, 3, 3)
    assert status.pending == 2 and status.count_limit == 2  # three, counted up to the limit
    assert status.sentiment_off and status.streak_capped


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (WITH, True),
        (WITHOUT, False),
        ("language=lingua; sentiment=x", True),
        ("language=lingua[sentiment=fake]", False),
        ("", False),
        (None, False),
    ],
)
def test_has_sentiment_reads_the_version_parts(model: str | None, expected: bool) -> None:
    assert has_sentiment(model) is expected


def test_the_cache_reads_again_only_after_its_seconds(db: Database) -> None:
    now = [100.0]
    cache = NlpStatusCache(seconds=5, clock=lambda: now[0])
    ids = seed(db, 2)
    with session_scope(db.engine) as session:
        assert cache.get(session).sentiment is SentimentState.idle
    enrich(db, ids, WITHOUT)
    now[0] += 4.9
    with session_scope(db.engine) as session:
        assert cache.get(session).sentiment is SentimentState.idle  # still the cached one
    now[0] += 0.2
    with session_scope(db.engine) as session:
        assert cache.get(session).sentiment is SentimentState.off


# The JSON API: admins only, the same body as the service.


@pytest.mark.anyio
async def test_an_admin_reads_the_status(client: httpx.AsyncClient, db: Database) -> None:
    ids = seed(db, 3)
    enrich(db, ids[:2], WITHOUT)
    await sign_in(client, db.engine, Role.admin)
    response = await client.get("/api/v1/nlp/status")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sentiment"] == "off"
    assert body["streak"] == body["without_sentiment"] == body["checked"] == 2
    assert body["model"] == WITHOUT and body["pending"] == 1 and body["failed"] == 0
    assert body["window"] == 200 and body["count_limit"] == 10_000
    assert body["created_from"].startswith("2026-11-01T10:00:00")


@pytest.mark.anyio
@pytest.mark.parametrize("role", [Role.lead, Role.agent, Role.viewer])
async def test_other_roles_are_refused(client: httpx.AsyncClient, db: Database, role: Role) -> None:
    await sign_in(client, db.engine, role)
    response = await client.get("/api/v1/nlp/status")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "forbidden" and "needs the admin role" in error["message"]


@pytest.mark.anyio
@pytest.mark.parametrize(("scopes", "allowed"), [(["read", "ingest"], False), (["admin"], True)])
async def test_keys_need_the_admin_scope(
    client: httpx.AsyncClient, db: Database, scopes: list[str], allowed: bool
) -> None:
    with session_scope(db.engine) as session:
        key = create_key(session, name="k", scopes=scopes).key
    response = await client.get("/api/v1/nlp/status", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == (200 if allowed else 403)
    assert (response.json()["sentiment"] == "idle") if allowed else "error" in response.json()


@pytest.mark.anyio
async def test_no_credentials_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nlp/status")
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
