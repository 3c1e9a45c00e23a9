"""Webhook deliveries from sources that push (Typeform, Formbricks): verify, map, store.

A delivery is stored whole or not at all: a bad signature is 401, a body that is not the
documented shape or an item the hub cannot store is 422 (the sender keeps it and retries).
Items are keyed by the source's own ids, so a re-delivery is a duplicate, never a second row.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, select

from collectors.base import BadSignature, InboundCollector, MalformedResponse
from collectors.registry import is_inbound, registered
from hub.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from hub.feedback.json_input import UnstorableJson, read_json
from hub.feedback.service import store_items, validate_items
from hub.sources.items import ingest_item
from hub.sources.models import Source
from hub.sources.service import validated_config
from hub.store.types import utcnow


@dataclass
class Delivery:
    """What a delivery stored."""

    created: int
    duplicate: int
    ids: list[int]


def receive_delivery(
    session: Session, *, name: str, headers: Mapping[str, str], body: bytes
) -> Delivery:
    """Verify a delivery to the webhook source ``name`` and store the feedback it holds."""
    source = session.exec(select(Source).where(Source.name == name)).first()
    collector = registered().get(source.kind) if source else None
    if source is None or collector is None or not is_inbound(collector):
        raise NotFound(f"no webhook source named {name!r}")
    assert isinstance(collector, InboundCollector)
    if not source.enabled:
        raise Forbidden(f"the source {name!r} is disabled")
    config = validated_config(collector, source.config)
    try:
        collector.verify(config, headers, body)
    except BadSignature as exc:
        raise Unauthorized(f"webhook signature rejected: {exc}") from exc
    try:
        payload = read_json(body)
    except UnstorableJson as exc:
        raise InvalidInput(f"the delivery is not JSON the hub can store: {exc}") from exc
    try:
        items = collector.items(config, headers, payload)
    except MalformedResponse as exc:
        raise InvalidInput(f"the delivery is not a {collector.title} payload: {exc}") from exc
    accepted, rejected = validate_items([ingest_item(item, source.name) for item in items])
    if rejected:
        details = [
            {"loc": ["item", result.index, *error.loc], "message": error.message}
            for result in rejected
            for error in result.errors or []
        ]
        raise InvalidInput("the delivery holds feedback the hub cannot store", details=details)
    results = store_items(session, items=accepted, source_kind=source.kind)
    source.last_run_at = source.last_success_at = utcnow()
    session.add(source)
    created = sum(result.status == "created" for result in results)
    ids = [result.id for result in results if result.id is not None]
    return Delivery(created=created, duplicate=len(results) - created, ids=ids)
