"""A new case's SLA times: its team's schedule applied to the rule's window and clock."""

from datetime import datetime, timedelta

from sqlmodel import Session

from hub.cases.sla import DueTimes, Schedule, SlaClock, due_times
from hub.config import Settings
from hub.feedback.models import Feedback
from hub.users.models import Team


def team_schedule(session: Session, team_id: int | None) -> Schedule:
    """The team's opening hours in its time zone; 24x7 UTC without a team."""
    team = session.get(Team, team_id) if team_id is not None else None
    if team is None:
        return Schedule()
    return Schedule.of(team.timezone, team.business_hours)


def deadlines_for(
    session: Session,
    *,
    settings: Settings,
    feedback_id: int,
    team_id: int | None,
    sla_hours: float,
    clock: SlaClock,
    now: datetime,
) -> DueTimes:
    """When a case opened ``now`` for this item and team enters near breach, and is due."""
    feedback = session.get(Feedback, feedback_id)
    return due_times(
        customer_at=feedback.created_at if feedback is not None else now,
        received_at=feedback.received_at if feedback is not None else now,
        routed_at=now,
        window=timedelta(hours=sla_hours),
        clock=clock,
        cap_share=settings.sla_max_spent_share,
        schedule=team_schedule(session, team_id),
    )
