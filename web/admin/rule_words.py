"""A routing rule in words: what it takes ("sentiment is negative") and where it sends it."""

from hub.feedback.models import ScoreType
from hub.routing.models import Conditions, PriorityRaise, RulePublic, ScoreRange, Strategy
from hub.routing.rules import range_words

SCORE_LABELS = {ScoreType.nps: "NPS", ScoreType.csat: "CSAT", ScoreType.ces: "CES",
                ScoreType.stars: "stars", ScoreType.thumbs: "thumbs"}  # fmt: skip
STRATEGY_WORDS = {
    Strategy.none: "waits in the team's queue",
    Strategy.round_robin: "round robin in the team",
    Strategy.least_loaded: "least loaded team member",
}


def describe(conditions: Conditions, topic_names: dict[str, str]) -> list[str]:
    """A rule's conditions in words, one line each ("all feedback" when it has none)."""
    c = conditions
    words = [
        ("sentiment is", c.sentiments),
        ("score is", [score_words(score) for score in c.scores]),
        ("topic is", [topic_names.get(key, key) for key in c.topics]),
        ("source kind is", [kind.replace("_", " ") for kind in c.source_kinds]),
        ("source is", c.sources),
        ("channel is", [channel.value for channel in c.channels]),
        ("language is", c.languages),
        ("customer segment is", c.segments),
        *[(f"customer {name} is", values) for name, values in c.attributes.items()],
        *[("customer", [range_words(name, b)]) for name, b in c.attribute_ranges.items()],
        ("mentions", [f"“{keyword}”" for keyword in c.keywords]),
    ]
    lines = [f"{label} {' or '.join(values)}" for label, values in words if values]
    return lines or ["all feedback"]


def score_words(score: ScoreRange) -> str:
    """One score condition in words: "NPS ≤ 6", "CSAT 1-2", "thumbs down"."""
    kind = SCORE_LABELS[score.score_type]
    if score.score_type == ScoreType.thumbs and (score.max == 0 or score.min == 1):
        return "thumbs down" if score.max == 0 else "thumbs up"
    if score.min is not None and score.max is not None:
        return f"{kind} {score.min}-{score.max}"
    if score.max is not None:
        return f"{kind} ≤ {score.max}"
    if score.min is not None:
        return f"{kind} ≥ {score.min}"
    return f"any {kind}"


def target(rule: RulePublic, teams: dict[int, str], users: dict[int, str]) -> str:
    """Where a rule sends what it takes, in words, and for whom it raises the priority."""
    raised = f"; {raise_words(rule.raise_priority_for)}" if rule.raise_priority_for else ""
    return _destination(rule, teams, users) + raised


def raise_words(lift: PriorityRaise) -> str:
    """``priority one step up for segment enterprise or mrr ≥ 1000``."""
    who = [f"segment {s}" for s in lift.segments] + [
        range_words(name, bounds) for name, bounds in lift.attribute_ranges.items()
    ]
    step = f"to {lift.to.value}" if lift.to else "one step up"
    return f"priority {step} for {' or '.join(who)}"


def _destination(rule: RulePublic, teams: dict[int, str], users: dict[int, str]) -> str:
    team = teams.get(rule.team_id) if rule.team_id is not None else None
    person = users.get(rule.assignee_id) if rule.assignee_id is not None else None
    if team and person:
        return f"{person} in team {team}"
    if person:
        return person
    if team:
        return f"team {team}, {STRATEGY_WORDS[rule.strategy]}"
    return "nobody: its team or person was removed"
