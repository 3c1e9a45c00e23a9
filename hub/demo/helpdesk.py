"""The demo's help desk: Support's hours, lead and rules, so the demo's cases are a realistic
mix of priorities and SLA states (ok, near breach, breached) that follows from when each
customer wrote, not from states set by hand."""

from datetime import timedelta

from sqlmodel import Session, col, select

from hub.feedback.models import Feedback, ScoreType
from hub.routing.defaults import URGENT_RULE
from hub.routing.models import Conditions, Priority, RoutingRule, RuleIn, ScoreRange, Strategy
from hub.routing.service import create_rule, reorder_rules
from hub.scores import SCALES
from hub.store.types import utcnow
from hub.users.models import Team, TeamMember, User

SUPPORT_ZONE = "Europe/Lisbon"
SUPPORT_HOURS = {day: ["09:00", "18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
DEMO_LEAD = "rita@cestia.example"
# The demo's story: the hub has been live for two weeks, so that feedback reached it minutes
# after the customer wrote (full SLA clocks: some cases breached, some near breach); the older
# feedback was imported when it was set up, so those cases open with the capped clock an
# import gets (HUB_SLA_MAX_SPENT_SHARE), not all breached and escalated at once.
ARRIVAL_DELAY = timedelta(minutes=3)
LIVE_FOR = timedelta(days=14)  # longer than the slowest demo rule's window in business time


def _low_scores(*kinds: ScoreType) -> list[ScoreRange]:
    return [ScoreRange(score_type=kind, max=SCALES[kind].bad_at_most) for kind in kinds]


# Tried after "Urgent words" and before the other default rules, in this order:
# (name, conditions, priority, SLA hours).
DEMO_RULES = [
    ("Unhappy enterprise customers",
     Conditions(segments=["enterprise"], scores=_low_scores(*ScoreType)), Priority.urgent, 8),
    ("Support tickets", Conditions(channels=["ticket"]), Priority.normal, 24),
    ("Low app store ratings", Conditions(channels=["review"], scores=_low_scores(ScoreType.stars)),
     Priority.low, 72),
]  # fmt: skip


def set_up_support(session: Session, team_id: int) -> None:
    """Support works Mon-Fri 09:00-18:00 Lisbon time, Rita leads it, breaches escalate; the
    demo's rules come right after "Urgent words"."""
    team = session.get(Team, team_id)
    assert team is not None
    lead = session.exec(
        select(User.id).join(TeamMember, col(TeamMember.user_id) == col(User.id))
        .where(User.email == DEMO_LEAD, TeamMember.team_id == team_id)
    ).first()  # fmt: skip
    team.timezone, team.business_hours = SUPPORT_ZONE, SUPPORT_HOURS
    team.lead_id, team.escalate_on_breach = lead, True
    session.add(team)
    existing = set(session.exec(select(RoutingRule.name)).all())
    for name, conditions, priority, hours in DEMO_RULES:
        if name not in existing:
            data = RuleIn(name=name, conditions=conditions, team_id=team_id, priority=priority,
                          strategy=Strategy.least_loaded, sla_hours=hours)  # fmt: skip
            create_rule(session, data=data)
    session.flush()
    rules = session.exec(select(RoutingRule).order_by(col(RoutingRule.position))).all()
    urgent = [r.id or 0 for r in rules if r.name == URGENT_RULE]
    demo = [r.id or 0 for name, *_ in DEMO_RULES for r in rules if r.name == name]
    first = [*urgent, *demo]
    reorder_rules(session, rule_ids=[*first, *(r.id or 0 for r in rules if r.id not in first)])


def arrived_when_written(session: Session, feedback_ids: list[int]) -> None:
    """Date the arrival of the demo's last two weeks just after the customer wrote them (older
    items keep their arrival: now, as imported)."""
    live_since = utcnow() - LIVE_FOR
    live = col(Feedback.id).in_(feedback_ids), col(Feedback.created_at) >= live_since
    rows = session.exec(select(Feedback).where(*live)).all()
    for row in rows:
        row.received_at = row.created_at + ARRIVAL_DELAY
        session.add(row)
