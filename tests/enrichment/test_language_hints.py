"""Language hints on both backends: from the item's metadata, else its customer's attributes."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlmodel import select

from hub.config import Settings
from hub.enrichment.claims import claim_batch, language_code
from hub.enrichment.worker import Worker
from hub.feedback.models import Feedback
from hub.feedback.service import ingest
from hub.store.engine import session_scope
from nlp.language import LinguaDetector
from nlp.pipeline import Pipeline
from tests.conftest import Database
from tests.factories import item

LEASE = timedelta(minutes=5)


def _customer(ref: str, **attributes: Any) -> dict[str, Any]:
    return {"ref": ref, "attributes": attributes or None}


def _seed(db: Database, items: list[dict[str, Any]]) -> None:
    with session_scope(db.engine) as session:
        summary = ingest(session, raw_items=items)
    assert summary.created == len(items)


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _queries(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith(("UPDATE", "SELECT", "WITH"))]


def test_hints_come_from_the_item_then_its_customer(db: Database) -> None:
    cases: list[tuple[dict[str, Any] | None, dict[str, Any] | None, str | None]] = [
        # (metadata, customer, expected hint)
        ({"locale": "pt-BR"}, _customer("c1", language="es"), "pt"),
        ({"locale": "english", "source_language": "es"}, None, "es"),
        ({"source_language": "PT"}, _customer("c2", language="de"), "pt"),
        ({"locale": 5, "page_url": "https://shop.example/"}, _customer("c3", locale="fr-CA"), "fr"),
        (None, _customer("c4", language="es_MX"), "es"),
        (None, _customer("c5", language="English", locale="de_DE"), "de"),
        (None, _customer("c6", language=12, locale={"x": "pt"}), None),
        (None, _customer("c7", segment="smb"), None),
        ({"locale": ""}, None, None),
        (None, _customer("c2"), "de"),  # the same customer as above: one lookup serves both
    ]
    _seed(
        db,
        [
            item(text=f"item {n}", metadata=meta or ..., customer=customer or ...)
            for n, (meta, customer, _) in enumerate(cases)
        ],
    )
    with _statements(db.engine) as statements, session_scope(db.engine) as session:
        claimed = claim_batch(session, owner="w", size=100, lease=LEASE)
    assert {c.text: c.language_hint for c in claimed} == {
        f"item {n}": expected for n, (_, _, expected) in enumerate(cases)
    }
    assert len(_queries(statements)) == 2  # the claim, and one query for the batch's customers


def test_no_customer_query_when_every_item_names_its_language(db: Database) -> None:
    _seed(db, [item(text=f"item {n}", metadata={"locale": "en-US"}) for n in range(5)])
    with _statements(db.engine) as statements, session_scope(db.engine) as session:
        claimed = claim_batch(session, owner="w", size=100, lease=LEASE)
    assert {c.language_hint for c in claimed} == {"en"}
    assert len(_queries(statements)) == 1  # the claim alone


@pytest.mark.parametrize(
    ("value", "code"),
    [("pt-BR", "pt"), ("pt_BR", "pt"), ("PT", "pt"), ("es", "es"), ("eng", None), (None, None)],
)
def test_codes_are_normalised(value: str | None, code: str | None) -> None:
    assert language_code(value) == code


def test_the_worker_uses_hints_as_a_prior(db: Database) -> None:
    _seed(
        db,
        [
            item(external_id="es", text="Excelente", metadata={"locale": "es-AR"}, customer=...),
            item(external_id="pt", text="Excelente", metadata={"locale": "pt-BR"}, customer=...),
            item(external_id="short-pt", text="ok", customer=_customer("c1", language="pt")),
            item(external_id="short", text="ok", customer=...),
            item(external_id="en", text="The delivery was late again", metadata={"locale": "pt"}),
        ],
    )
    settings = Settings(database_url=db.url)
    pipeline = Pipeline(language=LinguaDetector(settings.language_codes))
    Worker(db.engine, settings, lambda _session: pipeline).run_once()
    with session_scope(db.engine) as session:
        rows = session.exec(select(Feedback)).all()
    assert {row.external_id: row.language for row in rows} == {
        "es": "es",  # ambiguous: the hint decides
        "pt": "pt",
        "short-pt": "pt",  # too short to judge: the customer's language
        "short": "unknown",
        "en": "en",  # clear text outweighs the hint
    }
