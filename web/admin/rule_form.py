"""The rule form: its fields as typed, the ``RuleIn`` they describe, and the form of a stored rule.

A refused form comes back as typed, so every field is kept as a string or list of strings here and
converted (with a reason per field when it cannot be) only in ``rule_in``.
"""

import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from hub.feedback.models import ScoreType
from hub.routing.models import NumberRange, Priority, RuleDraft, RuleIn, RulePublic, Strategy
from hub.routing.rules import range_words
from web.admin.rule_words import SCORE_LABELS

N = TypeVar("N", int, float)

FIELD_LABELS = {
    "name": "Name",
    "sentiments": "Sentiment",
    "scores": "Scores",
    "topics": "Topics",
    "source_kinds": "Source kinds",
    "sources": "Sources",
    "channels": "Channels",
    "languages": "Languages",
    "segments": "Customer segments",
    "attributes": "Customer attributes",
    "keywords": "Keywords",
    "owner": "Goes to",
    "strategy": "Strategy",
    "priority": "Priority",
    "sla_hours": "SLA hours",
    "raise_priority_for": "Raise priority for",
    "days": "Try on the last days",
    "sla_clock": "SLA clock",
}
HOURS = "give a number of hours"
SLA_RANGE = "give more than 0 and at most 2160 hours (90 days)"
DAYS = "give a whole number of days from 1 to 365"
# "mrr >= 1000", "seats <= 50", "mrr 1000-5000": an attribute compared as a number.
RANGE = re.compile(r"^\s*(?P<name>[^=<>≥≤]+?)\s*(?:(?P<op>>=|<=|≥|≤)\s*(?P<bound>-?[\d.]+)"
                   r"|\s(?P<low>-?[\d.]+)\s*-\s*(?P<high>-?[\d.]+))\s*$")  # fmt: skip


class RuleForm(BaseModel):
    """The rule form's fields as typed: kept as given, so a refused form shows them again."""

    csrf_token: str = ""
    intent: str = "save"  # or "try": show what the rule would take, save nothing
    name: str = ""
    enabled: bool = False
    sentiments: list[str] = []
    score_types: list[str] = []
    nps_min: str = ""
    nps_max: str = ""
    csat_min: str = ""
    csat_max: str = ""
    ces_min: str = ""
    ces_max: str = ""
    stars_min: str = ""
    stars_max: str = ""
    thumbs_min: str = ""
    thumbs_max: str = ""
    topics: list[str] = []
    source_kinds: list[str] = []
    sources: list[str] = []
    channels: list[str] = []
    languages: list[str] = []
    segments: str = ""  # comma-separated
    attributes: str = ""  # one per line: name = value, value; or name >= number
    keywords: str = ""  # one word or phrase per line
    team_id: str = ""
    assignee_id: str = ""
    strategy: str = Strategy.none.value
    priority: str = Priority.normal.value
    sla_hours: str = ""  # an emptied field is refused, not silently the default
    raise_segments: str = ""  # comma-separated
    raise_attributes: str = ""  # one per line: name >= number
    raise_to: str = ""  # empty: one step up
    days: str = "30"  # how far back Try looks
    sla_clock: str = "customer"

    def bound(self, score_type: str, end: str) -> str:
        """The typed min or max of one score type."""
        return str(getattr(self, f"{score_type}_{end}", "")).strip()


def rule_in(
    form: RuleForm, model: type[RuleDraft] = RuleIn
) -> tuple[RuleDraft | None, dict[str, str]]:
    """The rule a form describes (``RuleDraft`` to try it: no destination needed), or None and
    what is wrong, by form field."""
    errors: dict[str, str] = {}
    values, ranges = _attributes(form.attributes, "attributes", errors)
    conditions: dict[str, Any] = {
        "sentiments": form.sentiments, "scores": _score_ranges(form, errors),
        "topics": form.topics, "source_kinds": form.source_kinds, "sources": form.sources,
        "channels": form.channels, "languages": form.languages,
        "segments": _split(form.segments, ","), "attributes": values,
        "attribute_ranges": ranges, "keywords": _split(form.keywords, "\n"),
    }  # fmt: skip
    data: dict[str, Any] = {
        "name": form.name.strip(),
        "enabled": form.enabled,
        "conditions": conditions,
        "team_id": _number(form.team_id, int, "owner", "choose a team from the list", errors),
        "assignee_id": _number(form.assignee_id, int, "owner", "choose a person", errors),
        "strategy": form.strategy,
        "priority": form.priority,
        "sla_hours": _number(form.sla_hours, float, "sla_hours", HOURS, errors),
        "raise_priority_for": _priority_raise(form, errors),
        "sla_clock": form.sla_clock,
    }
    try:
        rule = model.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        for error in exc.errors():
            field = _field(error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            errors.setdefault(field, SLA_RANGE if field == "sla_hours" else message)
        return None, errors
    if data["sla_hours"] is None and "sla_hours" not in errors:
        errors["sla_hours"] = HOURS
    return (None, errors) if errors else (rule, errors)


def trial_days(form: RuleForm, errors: dict[str, str]) -> int:
    """How far back Try looks (30 when the field is not a number from 1 to 365)."""
    days = _number(form.days, int, "days", DAYS, errors)
    if days is not None and not 1 <= days <= 365:
        errors["days"] = DAYS
    return days if days is not None and "days" not in errors else 30


def form_of(rule: RulePublic) -> RuleForm:
    """The form of a stored rule."""
    c, lift = rule.conditions, rule.raise_priority_for
    bounds = {
        f"{score.score_type.value}_{end}": "" if value is None else str(value)
        for score in c.scores
        for end, value in (("min", score.min), ("max", score.max))
    }
    return RuleForm(
        name=rule.name, enabled=rule.enabled, sentiments=c.sentiments,
        score_types=[score.score_type.value for score in c.scores], topics=c.topics,
        source_kinds=c.source_kinds, sources=c.sources,
        channels=[channel.value for channel in c.channels], languages=c.languages,
        segments=", ".join(c.segments),
        attributes="\n".join([*(f"{name} = {', '.join(values)}"
                               for name, values in c.attributes.items()),
                             *_range_lines(c.attribute_ranges)]),
        keywords="\n".join(c.keywords),
        team_id=str(rule.team_id or ""), assignee_id=str(rule.assignee_id or ""),
        strategy=rule.strategy.value, priority=rule.priority.value,
        sla_hours=f"{rule.sla_hours:g}", sla_clock=rule.sla_clock.value,
        raise_segments=", ".join(lift.segments) if lift else "",
        raise_attributes="\n".join(_range_lines(lift.attribute_ranges)) if lift else "",
        raise_to=lift.to.value if lift and lift.to else "", **bounds,
    )  # fmt: skip


def _field(loc: tuple[int | str, ...]) -> str:
    """The form field a validation error belongs to ("owner" for the rule as a whole)."""
    if not loc:
        return "owner"
    if loc[0] == "conditions":
        field = str(loc[1]) if len(loc) > 1 else "owner"
        return "attributes" if field == "attribute_ranges" else field
    return "owner" if loc[0] in ("team_id", "assignee_id") else str(loc[0])


def _score_ranges(form: RuleForm, errors: dict[str, str]) -> list[dict[str, Any]]:
    ranges = []
    for kind in ScoreType:
        low, high = form.bound(kind.value, "min"), form.bound(kind.value, "max")
        if kind.value not in form.score_types and not low and not high:
            continue
        message = f"{SCORE_LABELS[kind]} bounds are whole numbers"
        ranges.append({
            "score_type": kind.value,
            "min": _number(low, int, "scores", message, errors),
            "max": _number(high, int, "scores", message, errors),
        })  # fmt: skip
    return ranges


def _attributes(
    text: str, field: str, errors: dict[str, str], *, values_allowed: bool = True
) -> tuple[dict[str, list[str]], dict[str, dict[str, float]]]:
    """Lines of ``name = value, value`` (values) and ``name >= 1000`` (numeric ranges)."""
    values: dict[str, list[str]] = {}
    ranges: dict[str, dict[str, float]] = {}
    shapes = "name = value, value; or name >= number" if values_allowed else "name >= number"
    for line in _split(text, "\n"):
        found = RANGE.match(line)
        name, sep, listed = line.partition("=")
        if found and (bounds := _bounds(found)) is not None:
            ranges.setdefault(found["name"].strip(), {}).update(bounds)
        elif values_allowed and sep and name.strip() and _split(listed, ","):
            values.setdefault(name.strip(), []).extend(_split(listed, ","))
        else:
            errors[field] = f"write each as: {shapes} (not {line!r})"
    return values, ranges


def _bounds(found: re.Match[str]) -> dict[str, float] | None:
    try:
        if found["op"]:
            return {"min" if found["op"] in (">=", "≥") else "max": float(found["bound"])}
        return {"min": float(found["low"]), "max": float(found["high"])}
    except ValueError:
        return None


def _range_lines(ranges: dict[str, NumberRange]) -> list[str]:
    return [
        range_words(name, bounds).replace("≥", ">=").replace("≤", "<=")
        for name, bounds in ranges.items()
    ]


def _priority_raise(form: RuleForm, errors: dict[str, str]) -> dict[str, Any] | None:
    segments = _split(form.raise_segments, ",")
    _values, ranges = _attributes(form.raise_attributes, "raise_priority_for", errors,
                                  values_allowed=False)  # fmt: skip
    if not segments and not ranges:
        if form.raise_to:
            errors["raise_priority_for"] = "name a segment or a customer attribute to raise for"
        return None
    return {"segments": segments, "attribute_ranges": ranges, "to": form.raise_to or None}


def _split(text: str, separator: str) -> list[str]:
    return list(dict.fromkeys(part.strip() for part in text.split(separator) if part.strip()))


def _number(
    text: str, kind: Callable[[str], N], field: str, message: str, errors: dict[str, str]
) -> N | None:
    """A typed number, None when left empty; a bad one is noted in ``errors``."""
    if not text.strip():
        return None
    try:
        return kind(text.strip())
    except ValueError:
        errors.setdefault(field, message)
        return None
