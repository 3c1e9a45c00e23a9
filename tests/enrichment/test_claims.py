"""Leases on both backends: disjoint claims, expiry, owner-only writes, retries then failure."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlmodel import select

from hub.enrichment.claims import Failure, claim_batch, record_failures, write_results
from hub.feedback.models import Feedback
from hub.feedback.service import ingest
from hub.store.engine import session_scope
from tests.factories import item

LEASE = timedelta(minutes=5)


def _seed(db, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        summary = ingest(session, raw_items=[item(text=f"text {n}") for n in range(count)])
    return sorted(result.id for result in summary.results)  # type: ignore[misc]


def _claim(db, owner: str, size: int, lease: timedelta = LEASE) -> list[int]:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        return [c.id for c in claim_batch(session, owner=owner, size=size, lease=lease)]


def _rows(db) -> dict[int, Feedback]:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        return {row.id: row for row in session.exec(select(Feedback))}  # type: ignore[misc]


def test_claims_are_oldest_first_and_disjoint(db) -> None:  # type: ignore[no-untyped-def]
    ids = _seed(db, 10)
    first = _claim(db, "a", 4)
    second = _claim(db, "b", 4)
    assert first == ids[:4]
    assert second == ids[4:8]
    rows = _rows(db)
    assert {rows[i].nlp_lease_owner for i in first} == {"a"}
    assert all(rows[i].nlp_attempts == 1 for i in first + second)
    assert rows[ids[9]].nlp_lease_owner is None


def test_concurrent_claimers_never_share_an_item(db) -> None:  # type: ignore[no-untyped-def]
    ids = _seed(db, 200)
    with ThreadPoolExecutor(max_workers=4) as pool:
        batches = list(pool.map(lambda n: _claim(db, f"w{n}", 30), range(8)))
    claimed = [i for batch in batches for i in batch]
    assert len(claimed) == len(set(claimed)) == 200
    assert sorted(claimed) == sorted(ids)


def test_an_expired_lease_is_claimed_again_and_only_the_owner_writes(db) -> None:  # type: ignore[no-untyped-def]
    ids = _seed(db, 3)
    assert _claim(db, "crashed", 3, lease=timedelta(milliseconds=50)) == ids
    assert _claim(db, "other", 3) == []  # still leased
    time.sleep(0.1)
    assert _claim(db, "rescuer", 3) == ids
    with session_scope(db.engine) as session:
        stale = write_results(
            session, owner="crashed", model="m1", results={ids[0]: {"language": "xx"}}
        )
        fresh = write_results(
            session, owner="rescuer", model="m2", results={i: {"language": "en"} for i in ids}
        )
    assert (stale, fresh) == (0, 3)
    rows = _rows(db)
    assert {
        (r.language, r.nlp_state, r.nlp_model, r.nlp_attempts, r.nlp_lease_owner)
        for r in rows.values()
    } == {("en", "done", "m2", 2, None)}
    assert _claim(db, "late", 3) == []  # done items are never claimed


def test_failures_are_retried_then_marked_failed_with_the_error(db) -> None:  # type: ignore[no-untyped-def]
    [only] = _seed(db, 1)
    for attempt in (1, 2, 3):
        assert _claim(db, "w", 1) == [only]
        with session_scope(db.engine) as session:
            record_failures(
                session,
                owner="w",
                failures=[Failure(only, f"ValueError: broken {attempt}", attempt)],
                max_attempts=3,
                retry_after=timedelta(0),
            )
    row = _rows(db)[only]
    assert (row.nlp_state, row.nlp_error, row.nlp_attempts) == ("failed", "ValueError: broken 3", 3)
    assert _claim(db, "w", 1) == []


def test_a_failed_item_waits_before_its_retry(db) -> None:  # type: ignore[no-untyped-def]
    [only] = _seed(db, 1)
    _claim(db, "w", 1)
    with session_scope(db.engine) as session:
        record_failures(
            session,
            owner="w",
            failures=[Failure(only, "boom", 1)],
            max_attempts=3,
            retry_after=timedelta(minutes=1),
        )
    row = _rows(db)[only]
    assert (row.nlp_state, row.nlp_lease_owner) == ("pending", None)
    assert _claim(db, "w", 1) == []
