"""Collected items in the shape the ingest schema validates."""

from typing import Any

from collectors.base import Item
from hub.feedback.models import MAX_TEXT_CHARS


def ingest_item(item: Item, source: str) -> dict[str, Any]:
    """``item`` as an ingest dict for ``source``; oversize fields are cut, not rejected.

    The source's own language claim is kept as ``metadata.source_language`` (the worker's
    detector decides ``language``).
    """
    metadata = dict(item.metadata)
    if item.language:
        metadata["source_language"] = item.language
    text = item.text
    if text is not None and len(text) > MAX_TEXT_CHARS:
        text, metadata["truncated"] = text[:MAX_TEXT_CHARS], True
    url = item.url if item.url and len(item.url) <= 2048 else None
    return {
        "source": source,
        "external_id": item.external_id[:255],
        "channel": item.channel,
        "text": text,
        "title": item.title[:500] if item.title else None,
        "score_type": item.score_type,
        "score": item.score,
        "created_at": item.created_at,
        "author": item.author[:200] if item.author else None,
        "customer": item.customer,
        "answers": item.answers or None,
        "url": url,
        "metadata": metadata or None,
    }
