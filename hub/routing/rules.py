"""Matching feedback against rule conditions: pure functions, no database.

Every condition a rule gives must hold; a list condition holds when any of its values does. The
result says which conditions held, so each decision can be explained and audited.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from hub.routing.models import Conditions, ScoreRange


@dataclass(frozen=True)
class Facts:
    """What routing knows about one feedback item."""

    text: str = ""
    sentiment: str | None = None
    score_type: str | None = None
    score: int | None = None
    topics: frozenset[str] = frozenset()
    source: str = ""
    source_kind: str = ""
    channel: str = ""
    language: str | None = None
    segment: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


def explain(conditions: Conditions, facts: Facts) -> list[str] | None:
    """The conditions that held, or None when any condition fails (an empty rule takes all)."""
    c, f = conditions, facts
    checks: list[tuple[str, Any, Callable[[], bool]]] = [
        ("sentiment", c.sentiments, lambda: f.sentiment in c.sentiments),
        ("score", c.scores, lambda: any(_in(bounds, f) for bounds in c.scores)),
        ("topic", c.topics, lambda: bool(f.topics & set(c.topics))),
        ("source kind", c.source_kinds, lambda: f.source_kind in c.source_kinds),
        ("source", c.sources, lambda: f.source in c.sources),
        ("channel", c.channels, lambda: f.channel in c.channels),
        ("language", c.languages, lambda: f.language in c.languages),
        ("segment", c.segments, lambda: f.segment in c.segments),
        ("attributes", c.attributes, lambda: _attributes_match(c, f)),
        ("keyword", c.keywords, lambda: _keyword(c.keywords, f.text) is not None),
    ]
    reasons: list[str] = []
    for label, given, holds in checks:
        if not given:
            continue
        if not holds():
            return None
        reasons.append(_reason(label, c, f))
    return reasons


def _in(bounds: ScoreRange, facts: Facts) -> bool:
    if facts.score is None or facts.score_type != bounds.score_type.value:
        return False
    low = bounds.min if bounds.min is not None else facts.score
    high = bounds.max if bounds.max is not None else facts.score
    return low <= facts.score <= high


def _attributes_match(conditions: Conditions, facts: Facts) -> bool:
    return all(
        str(facts.attributes.get(name)) in {str(value) for value in values}
        for name, values in conditions.attributes.items()
    )


@lru_cache(maxsize=1024)
def _pattern(keyword: str) -> re.Pattern[str]:
    # Whole words (or phrases), any case; \b also works for accented letters in Python.
    return re.compile(rf"(?<!\w){re.escape(keyword.strip())}(?!\w)", re.IGNORECASE)


def _keyword(keywords: list[str], text: str) -> str | None:
    return next((k for k in keywords if k.strip() and _pattern(k).search(text)), None)


def _reason(label: str, conditions: Conditions, facts: Facts) -> str:
    if label == "score":
        return f"{facts.score_type} {facts.score}"
    if label == "topic":
        return "topic " + ", ".join(sorted(facts.topics & set(conditions.topics)))
    if label == "keyword":
        return f'keyword "{_keyword(conditions.keywords, facts.text)}"'
    if label == "attributes":
        return "attributes " + ", ".join(
            f"{k}={facts.attributes.get(k)}" for k in conditions.attributes
        )
    values = {
        "sentiment": facts.sentiment, "source kind": facts.source_kind, "source": facts.source,
        "channel": facts.channel, "language": facts.language, "segment": facts.segment,
    }  # fmt: skip
    return f"{label} {values[label]}"
