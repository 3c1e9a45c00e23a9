"""What a breached SLA does: per team, raise the priority one step and give the case to the
team's lead; then tell the assignee and the lead. Each change is an event by "system"."""

from sqlmodel import Session

from hub.cases.models import Case
from hub.cases.service import SYSTEM, assign, can_take_cases, notify, set_priority
from hub.config import Settings
from hub.notifications.models import EventType
from hub.routing.models import Priority
from hub.users.models import Team, User

PRIORITIES = list(Priority)


def escalate(session: Session, settings: Settings, case: Case) -> None:
    """Escalate a case just marked breached (its claim makes this run once per breach)."""
    assert case.id is not None
    team = session.get(Team, case.team_id) if case.team_id is not None else None
    told = [case.assignee_id]
    if team is not None and team.escalate_on_breach:
        step = min(PRIORITIES.index(Priority(case.priority)) + 1, len(PRIORITIES) - 1)
        set_priority(session, case_id=case.id, priority=PRIORITIES[step], actor=SYSTEM)
        lead = session.get(User, team.lead_id) if team.lead_id is not None else None
        if lead is not None and can_take_cases(lead) and lead.id != case.assignee_id:
            assign(session, settings=settings, case_id=case.id, assignee_id=lead.id,
                   team_id=case.team_id, actor=SYSTEM)  # fmt: skip
        told.append(team.lead_id)
    notify(session, settings, case, EventType.case_sla_breached, to_users=list(dict.fromkeys(told)))
