"""The default rules a new hub starts with, and the words that make a complaint urgent.

A new install (no rules at all) gets every default rule on first start. An existing install gets
the rules added later (so far "Urgent words") once, by migration 0013: a rule a lead since edited,
renamed or deleted is never added again, as the migration runs only once.
"""

from sqlmodel import Session, select

from hub.feedback.models import ScoreType
from hub.routing.models import (
    Conditions,
    NumberRange,
    Priority,
    PriorityRaise,
    RoutingRule,
    RuleIn,
    ScoreRange,
    Strategy,
)
from hub.routing.service import DEFAULT_TEAM, create_rule
from hub.scores import SCALES
from hub.users.models import Team, TeamCreate
from hub.users.service import create_team

URGENT_RULE = "Urgent words"
# Matched as whole words or phrases, ignoring case and accents ("denuncia" finds "denúncia").
URGENT_WORDS = [
    # en
    "escalate", "escalated", "lawyer", "attorney", "legal action", "sue you", "cancel my account",
    "cancel my subscription", "chargeback", "fraud", "scam",
    # es
    "abogado", "demandar", "denuncia", "cancelar mi cuenta", "cancelar mi suscripción",
    "contracargo", "fraude", "estafa", "hablar con un supervisor",
    # pt
    "advogado", "processo judicial", "ação judicial", "procon", "reclame aqui",
    "cancelar minha conta", "cancelar minha assinatura", "falar com um supervisor",
]  # fmt: skip
# Valuable customers: their cases open one priority step higher (below urgent).
VALUABLE = PriorityRaise(segments=["enterprise"], attribute_ranges={"mrr": NumberRange(min=1000)})


def default_rules(team_id: int) -> list[RuleIn]:
    """Urgent words first (urgent), then detractors and low scores (high), then negative
    sentiment in any language (normal: how text-only posts and tickets get a case); the last
    two a step higher for valuable customers."""
    low_scores = [
        ScoreRange(score_type=ScoreType(kind), max=scale.bad_at_most)
        for kind, scale in SCALES.items()
    ]
    return [
        RuleIn(name=name, conditions=conditions, team_id=team_id, priority=priority,
               strategy=Strategy.least_loaded, sla_hours=48,
               raise_priority_for=None if priority == Priority.urgent else VALUABLE)
        for name, conditions, priority in (
            (URGENT_RULE, Conditions(keywords=URGENT_WORDS), Priority.urgent),
            ("Detractors and low scores", Conditions(scores=low_scores), Priority.high),
            ("Negative sentiment", Conditions(sentiments=["negative"]), Priority.normal),
        )
    ]  # fmt: skip


def ensure_default_rules(session: Session) -> None:
    """On first start (no rules at all): the default rules, for the Support team."""
    if session.exec(select(RoutingRule.id)).first() is not None:
        return
    team = session.exec(select(Team).where(Team.name == DEFAULT_TEAM)).first()
    team_id = team.id if team else create_team(session, data=TeamCreate(name=DEFAULT_TEAM)).id
    assert team_id is not None
    for rule in default_rules(team_id):
        create_rule(session, data=rule)
