"""Matching feedback against rule conditions: pure functions, no database.

Every condition a rule gives must hold; a list condition holds when any of its values does. The
result says which conditions held, so each decision can be explained and audited.
"""

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from hub.routing.models import Conditions, NumberRange, Priority, PriorityRaise, ScoreRange

PRIORITIES = list(Priority)  # lowest first


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
        ("attribute ranges", c.attribute_ranges, lambda: _ranges_hold(c.attribute_ranges, f)),
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


def number(value: Any) -> float | None:
    """An attribute value as a number ("2437" and 2437 alike), None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        parsed = float(value)
    except ValueError:
        return None
    return parsed if math.isfinite(parsed) else None


def in_range(bounds: NumberRange, value: Any) -> bool:
    """Whether an attribute value is a number within the bounds (text never is)."""
    parsed = number(value)
    if parsed is None:
        return False
    return (bounds.min is None or parsed >= bounds.min) and (
        bounds.max is None or parsed <= bounds.max
    )


def _ranges_hold(ranges: dict[str, NumberRange], facts: Facts) -> bool:
    return all(in_range(bounds, facts.attributes.get(name)) for name, bounds in ranges.items())


def range_words(name: str, bounds: NumberRange) -> str:
    """``mrr ≥ 1000``, ``seats 5-50``."""
    low, high = (f"{b:g}" if b is not None else None for b in (bounds.min, bounds.max))
    if low is not None and high is not None:
        return f"{name} {low}-{high}"
    return f"{name} ≥ {low}" if low is not None else f"{name} ≤ {high}"


def raised_priority(
    raise_for: PriorityRaise | None, facts: Facts, priority: Priority
) -> tuple[Priority, str] | None:
    """The higher priority a valuable customer gets, and why; None when nothing raises it."""
    if raise_for is None:
        return None
    why = next(
        (f"customer segment {facts.segment}" for s in raise_for.segments
         if facts.segment is not None and fold(s) == fold(facts.segment)),
        None,
    ) or next(
        (f"customer {range_words(name, bounds)} ({facts.attributes.get(name)})"
         for name, bounds in raise_for.attribute_ranges.items()
         if in_range(bounds, facts.attributes.get(name))),
        None,
    )  # fmt: skip
    if why is None:
        return None
    step_up = PRIORITIES[min(PRIORITIES.index(priority) + 1, len(PRIORITIES) - 1)]
    target = raise_for.to or step_up
    if PRIORITIES.index(target) <= PRIORITIES.index(priority):
        return None  # never lowers, and urgent stays urgent
    return target, f"priority {priority.value} → {target.value}: {why}"


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Text without case or accents: "Não" and "NAO" both become "nao"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@lru_cache(maxsize=1024)
def _pattern(keyword: str) -> re.Pattern[str]:
    # Whole words or phrases (any spacing between the words), on folded text.
    phrase = r"\s+".join(re.escape(word) for word in fold(keyword).split())
    return re.compile(rf"(?<!\w){phrase}(?!\w)")


def _keyword(keywords: list[str], text: str) -> str | None:
    folded = fold(text)
    return next((k for k in keywords if k.strip() and _pattern(k).search(folded)), None)


def _reason(label: str, conditions: Conditions, facts: Facts) -> str:
    if label == "score":
        return f"{facts.score_type} {facts.score}"
    if label == "topic":
        return "topic " + ", ".join(sorted(facts.topics & set(conditions.topics)))
    if label == "keyword":
        return f'keyword "{_keyword(conditions.keywords, facts.text)}"'
    if label == "attribute ranges":
        return "customer " + ", ".join(
            f"{range_words(k, b)} ({facts.attributes.get(k)})"
            for k, b in conditions.attribute_ranges.items()
        )
    if label == "attributes":
        return "attributes " + ", ".join(
            f"{k}={facts.attributes.get(k)}" for k in conditions.attributes
        )
    values = {
        "sentiment": facts.sentiment, "source kind": facts.source_kind, "source": facts.source,
        "channel": facts.channel, "language": facts.language, "segment": facts.segment,
    }  # fmt: skip
    return f"{label} {values[label]}"
