"""The ingest service: idempotency under concurrency, customers, sources."""

from concurrent.futures import ThreadPoolExecutor

from sqlmodel import func, select

from hub.customers.models import Customer
from hub.feedback.models import Feedback
from hub.feedback.service import ingest
from hub.sources.models import Source
from hub.store.engine import session_scope
from tests.factories import item


def _count(db, model) -> int:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_concurrent_writers_store_each_item_once(db) -> None:  # type: ignore[no-untyped-def]
    items = [item(source=f"src-{n % 3}", customer=f"cus_{n % 7}") for n in range(200)]

    def send(_: int) -> tuple[int, int]:
        with session_scope(db.engine) as session:
            summary = ingest(session, raw_items=items)
        return summary.created, summary.duplicate

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(send, range(4)))
    assert sum(created for created, _ in outcomes) == 200
    assert all(created + duplicate == 200 for created, duplicate in outcomes)
    assert _count(db, Feedback) == 200
    assert _count(db, Source) == 3
    assert _count(db, Customer) == 7


def test_customer_details_merge_and_newest_win(db) -> None:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        ingest(
            session,
            raw_items=[
                item(
                    customer={
                        "ref": "c1",
                        "name": "Ana",
                        "attributes": {"plan": "free", "country": "BR"},
                    }
                )
            ],
        )
    with session_scope(db.engine) as session:
        ingest(
            session,
            raw_items=[
                item(
                    customer={
                        "ref": "c1",
                        "email": "Ana@Example.com",
                        "segment": "smb",
                        "attributes": {"plan": "pro"},
                    }
                )
            ],
        )
    with session_scope(db.engine) as session:
        customer = session.exec(select(Customer)).one()
    assert (customer.name, customer.email, customer.segment) == ("Ana", "ana@example.com", "smb")
    assert customer.attributes == {"plan": "pro", "country": "BR"}


def test_customer_by_email_only_is_keyed_by_lowercased_email(db) -> None:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        ingest(
            session,
            raw_items=[
                item(customer={"email": "Bo@Example.com"}),
                item(customer={"email": "bo@example.com"}),
            ],
        )
    with session_scope(db.engine) as session:
        customers = session.exec(select(Customer)).all()
        feedback_customers = set(session.exec(select(Feedback.customer_id)).all())
    assert [c.external_ref for c in customers] == ["bo@example.com"]
    assert feedback_customers == {customers[0].id}


def test_same_external_id_in_two_sources_is_two_items(db) -> None:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        summary = ingest(
            session,
            raw_items=[item(source="a", external_id="1"), item(source="b", external_id="1")],
        )
    assert summary.created == 2


def test_new_sources_get_the_callers_kind(db) -> None:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        ingest(session, raw_items=[item(source="Play Store")], source_kind="google_play")
        source = session.exec(select(Source)).one()
    assert (source.name, source.kind, source.enabled) == ("Play Store", "google_play", True)


def test_non_object_items_are_rejected_in_place(db) -> None:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        summary = ingest(session, raw_items=[item(), "text", 3, None, item()])
    assert [r.status for r in summary.results] == [
        "created",
        "rejected",
        "rejected",
        "rejected",
        "created",
    ]
    assert summary.results[1].errors[0].message == "an item must be a JSON object"  # type: ignore[index]
