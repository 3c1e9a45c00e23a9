"""Rule conditions against facts: every given condition must hold, any value of a list."""

import pytest
from pydantic import ValidationError

from hub.routing.models import Conditions, RuleIn
from hub.routing.rules import Facts, explain

DETRACTOR = Facts(
    text="The courier was late AGAIN and the refund never came",
    sentiment="negative", score_type="nps", score=3, topics=frozenset({"delivery", "refunds"}),
    source="Website NPS", source_kind="widget", channel="survey", language="en",
    segment="smb", attributes={"plan": "plus", "country": "PT"},
)  # fmt: skip


@pytest.mark.parametrize(
    ("conditions", "reasons"),
    [
        ({}, []),
        ({"scores": [{"score_type": "nps", "max": 6}]}, ["nps 3"]),
        ({"scores": [{"score_type": "csat", "max": 2}, {"score_type": "nps", "min": 0, "max": 6}]},
         ["nps 3"]),
        ({"sentiments": ["negative", "neutral"]}, ["sentiment negative"]),
        ({"topics": ["delivery", "billing"]}, ["topic delivery"]),
        ({"keywords": ["refund", "chargeback"]}, ['keyword "refund"']),
        ({"keywords": ["late again"]}, ['keyword "late again"']),
        ({"attributes": {"plan": ["plus", "family"]}}, ["attributes plan=plus"]),
        ({"segments": ["smb"], "languages": ["en", "es"], "channels": ["survey"]},
         ["channel survey", "language en", "segment smb"]),
        ({"source_kinds": ["widget"], "sources": ["Website NPS"]},
         ["source kind widget", "source Website NPS"]),
    ],
)  # fmt: skip
def test_matching_conditions_explain_themselves(conditions: dict, reasons: list[str]) -> None:
    assert explain(Conditions.model_validate(conditions), DETRACTOR) == reasons


@pytest.mark.parametrize(
    "conditions",
    [
        {"scores": [{"score_type": "nps", "min": 7}]},
        {"scores": [{"score_type": "csat", "max": 2}]},  # another score type
        {"sentiments": ["positive"]},
        {"topics": ["billing"]},
        {"keywords": ["refunded"]},  # whole words only
        {"keywords": ["late"], "segments": ["enterprise"]},  # one condition fails: no match
        {"attributes": {"plan": ["free"]}},
        {"attributes": {"tier": ["gold"]}},  # an attribute the customer lacks
        {"languages": ["pt"]},
    ],
)
def test_a_failing_condition_means_no_match(conditions: dict) -> None:
    assert explain(Conditions.model_validate(conditions), DETRACTOR) is None


def test_keywords_ignore_case_and_work_for_accents() -> None:
    facts = Facts(text="Não recebi o REEMBOLSO até hoje")
    assert explain(Conditions(keywords=["reembolso"]), facts) == ['keyword "reembolso"']
    assert explain(Conditions(keywords=["não recebi"]), facts) == ['keyword "não recebi"']


def test_no_score_never_matches_a_score_condition() -> None:
    assert explain(Conditions.model_validate({"scores": [{"score_type": "nps", "max": 6}]}),
                   Facts(text="meh")) is None  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"name": "x", "team_id": 1, "conditions": {"scores": [{"score_type": "nps", "max": 11}]}},
         "nps scores run 0-10"),
        ({"name": "x", "team_id": 1, "conditions": {"sentiments": ["mad"]}}, "unknown sentiments"),
        ({"name": "x"}, "a team, a person, or both"),
        ({"name": "x", "assignee_id": 1, "strategy": "round_robin"}, "name one"),
        ({"name": "x", "team_id": 1, "conditions": {"colour": ["red"]}}, "Extra inputs"),
        ({"name": "x", "team_id": 1, "sla_hours": 0}, "greater than 0"),
    ],
)  # fmt: skip
def test_bad_rules_are_refused_precisely(rule: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RuleIn.model_validate(rule)
