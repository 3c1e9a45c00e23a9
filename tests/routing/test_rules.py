"""Rule conditions against facts: every given condition must hold, any value of a list."""

import pytest
from pydantic import ValidationError

from hub.routing.defaults import URGENT_WORDS
from hub.routing.models import Conditions, Priority, PriorityRaise, RuleDraft, RuleIn
from hub.routing.rules import Facts, explain, raised_priority

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


URGENT = Conditions(keywords=URGENT_WORDS)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("Charged twice AGAIN - please ESCALATE to a manager", "escalate"),
        ("I will call my lawyer", "lawyer"),
        ("Please cancel   my\naccount today", "cancel my account"),
        ("Voy a hablar con mi ABOGADO", "abogado"),
        ("Quiero cancelar mi cuenta ya", "cancelar mi cuenta"),
        ("Vou fazer uma denúncia", "denuncia"),
        ("Vou registrar no PROCON", "procon"),
        ("Quero cancelar minha conta!", "cancelar minha conta"),
        ("Já falei com meu advogado", "advogado"),
    ],
)
def test_urgent_words_in_en_es_pt_ignore_case_and_accents(text: str, word: str) -> None:
    assert explain(URGENT, Facts(text=text)) == [f'keyword "{word}"']


@pytest.mark.parametrize(
    "text", ["The escalator was broken", "Lawyers' fees page is great", "cancel my order please"]
)
def test_urgent_words_match_whole_words_only(text: str) -> None:
    assert explain(URGENT, Facts(text=text)) is None


@pytest.mark.parametrize(
    ("mrr", "holds"),
    [(2437, True), ("2437", True), (" 1000 ", True), (999.5, False), ("lots", False),
     (None, False), (True, False), ("nan", False), ({"x": 1}, False)],
)  # fmt: skip
def test_attribute_ranges_compare_numbers_and_never_crash_on_text(mrr: object, holds: bool) -> None:
    conditions = Conditions.model_validate({"attribute_ranges": {"mrr": {"min": 1000}}})
    reasons = explain(conditions, Facts(attributes={"mrr": mrr}))
    assert (reasons is not None) is holds
    if holds:
        assert reasons == [f"customer mrr ≥ 1000 ({mrr})"]


VALUABLE_ONE_STEP = PriorityRaise.model_validate(
    {"segments": ["Enterprise"], "attribute_ranges": {"mrr": {"min": 1000}}}
)


@pytest.mark.parametrize(
    ("facts", "priority", "raised"),
    [
        (Facts(segment="enterprise"), Priority.normal,
         (Priority.high, "priority normal → high: customer segment enterprise")),
        (Facts(segment="smb", attributes={"mrr": "2437"}), Priority.high,
         (Priority.urgent, "priority high → urgent: customer mrr ≥ 1000 (2437)")),
        (Facts(segment="smb", attributes={"mrr": "n/a"}), Priority.normal, None),
        (Facts(segment="enterprise"), Priority.urgent, None),  # urgent stays urgent
    ],
)  # fmt: skip
def test_valuable_customers_raise_priority_one_step(
    facts: Facts, priority: Priority, raised: tuple[Priority, str] | None
) -> None:
    assert raised_priority(VALUABLE_ONE_STEP, facts, priority) == raised


def test_a_named_priority_is_raised_to_but_never_lowered() -> None:
    to_urgent = PriorityRaise.model_validate({"segments": ["enterprise"], "to": "urgent"})
    to_high = PriorityRaise.model_validate({"segments": ["enterprise"], "to": "high"})
    assert raised_priority(to_urgent, Facts(segment="enterprise"), Priority.low) == (
        Priority.urgent, "priority low → urgent: customer segment enterprise",
    )  # fmt: skip
    assert raised_priority(to_high, Facts(segment="enterprise"), Priority.urgent) is None


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"raise_priority_for": {}}, "name a segment or a customer attribute"),
        ({"raise_priority_for": {"segments": ["x"], "to": "highest"}}, "'low', 'normal'"),
        ({"raise_priority_for": {"attribute_ranges": {"mrr": {}}}}, "give a min, a max or both"),
        ({"conditions": {"attribute_ranges": {"mrr": {"min": 5, "max": 1}}}}, "min is above max"),
        ({"conditions": {"attribute_ranges": {"mrr": {"min": "lots"}}}}, "valid number"),
        ({"conditions": {"attribute_ranges": {" ": {"min": 1}}}}, "attribute name is empty"),
    ],
)
def test_bad_ranges_and_raises_are_refused_precisely(rule: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RuleIn.model_validate({"name": "x", "team_id": 1, **rule})


def test_a_draft_needs_no_destination_but_a_saved_rule_does() -> None:
    assert RuleDraft.model_validate({"conditions": {"keywords": ["refund"]}}).team_id is None
    with pytest.raises(ValidationError, match="a team, a person, or both"):
        RuleIn.model_validate({"name": "x", "conditions": {"keywords": ["refund"]}})
