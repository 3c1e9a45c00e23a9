"""The demo's closed loop: closed cases with follow-up answers and a recovered detractor.

Routed cases in a fresh demo are all new; these few were worked weeks ago, so the loop
dashboard (/cases/metrics) has response and resolution times, CSAT and recovery to show. Each
item has a routing decision, so the worker never routes it again. Idempotent.
"""

import json
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from sqlmodel import Session, select

from hub.cases.models import Case, EventKind, Status
from hub.cases.service import record
from hub.feedback.models import Feedback
from hub.feedback.service import ingest
from hub.loop.models import SOURCE_KIND, SOURCE_NAME, Followup
from hub.routing.models import RoutingDecision
from hub.routing.service import DEFAULT_TEAM
from hub.store.types import utcnow
from hub.users.models import Team, TeamMember

SOURCE = "Website NPS survey"
# (customer, language, NPS, what they said, days ago, first response h, resolved h,
#  follow-up CSAT or None, their next NPS (days after the close) or None)
# fmt: off
CLOSED = [
    ("cus_003", "en", 2, "Charged twice AGAIN for the same order. Please escalate.",
     40, 1.5, 20, 5, (9, 12)),
    ("cus_022", "es", 4, "El repartidor dejó el pedido en la calle bajo la lluvia.",
     35, 3.0, 30, 4, (6, 10)),
    ("cus_034", "pt", 3, "O reembolso prometido nunca chegou à minha conta.",
     30, 6.0, 52, 2, None),
    ("cus_008", "en", 6, "Support took a week to answer a simple question about my plan.",
     25, 20.0, 70, 4, None),
    ("cus_036", "pt", 5, "A app fecha sempre que tento pagar com cartão.",
     12, 2.0, None, None, None),
]
# fmt: on
# Feedback items it adds: each case's item, its follow-up answer, the next NPS.
ITEMS = sum(1 + (row[7] is not None) + (row[8] is not None) for row in CLOSED)


def add_closed_loop(session: Session) -> int:
    """Add the closed demo cases once; how many were added."""
    if session.exec(select(Feedback.id).where(Feedback.external_id == "demo-loop-1")).first():
        return 0
    team = session.exec(select(Team).where(Team.name == DEFAULT_TEAM)).first()
    if team is None or team.id is None:
        return 0
    agents = list(session.exec(select(TeamMember.user_id).where(TeamMember.team_id == team.id)))
    customers = _customers()
    now = utcnow()
    for n, row in enumerate(CLOSED, 1):
        ref, language, nps, text, days, responded, resolved, csat, later = row
        said_at = now - timedelta(days=days)
        feedback_id = _item(session, f"demo-loop-{n}", SOURCE, said_at, customers[ref],
                            score_type="nps", score=nps, text=text)  # fmt: skip
        agent = agents[n % len(agents)] if agents else None
        case = _worked_case(session, feedback_id, team.id, agent, said_at, responded, resolved)
        feedback = session.get(Feedback, feedback_id)
        if feedback is not None:
            feedback.language = language
        if csat is not None and case.closed_at is not None:
            _followup(session, case, language, customers[ref], csat)
        if later is not None and case.closed_at is not None:
            score, after_days = later
            next_at = case.closed_at + timedelta(days=after_days)
            _item(session, f"demo-loop-{n}-next", SOURCE, next_at, customers[ref],
                  score_type="nps", score=score, text=None)  # fmt: skip
    return len(CLOSED)


def _customers() -> dict[str, dict[str, Any]]:
    data = resources.files("hub.demo") / "data" / "customers.json"
    return {c["ref"]: c for c in json.loads(data.read_text("utf-8"))}


def _item(session: Session, external_id: str, source: str, at: datetime, customer: dict[str, Any],
          **fields: Any) -> int:  # fmt: skip
    raw = {"source": source, "external_id": external_id, "channel": "survey",
           "created_at": at.isoformat(), "customer": customer, **fields}  # fmt: skip
    [result] = ingest(session, raw_items=[raw]).results
    assert result.id is not None
    return result.id


def _worked_case(
    session: Session, feedback_id: int, team_id: int, agent: int | None, opened: datetime,
    responded: float, resolved: float | None,
) -> Case:  # fmt: skip
    case = Case(feedback_id=feedback_id, team_id=team_id, assignee_id=agent, priority="high",
                status=Status.in_progress.value, created_at=opened, updated_at=opened,
                due_at=opened + timedelta(hours=48),
                first_response_at=opened + timedelta(hours=responded))  # fmt: skip
    if resolved is not None:
        case.resolved_at = case.closed_at = opened + timedelta(hours=resolved)
        case.status, case.resolution = Status.closed.value, "Refunded and apologised."
    session.add(case)
    session.flush()
    assert case.id is not None
    session.add(RoutingDecision(feedback_id=feedback_id, case_id=case.id, reason="demo"))
    record(session, case, EventKind.created, "system", after={"team_id": team_id})
    if case.closed_at is not None:
        record(session, case, EventKind.status_changed, "system", before={"status": "in_progress"},
               after={"status": "closed"}, body=case.resolution)  # fmt: skip
    return case


def _followup(
    session: Session, case: Case, language: str, customer: dict[str, Any], score: int
) -> None:
    assert case.id is not None and case.closed_at is not None
    answered = case.closed_at + timedelta(hours=5)
    raw = {"source": SOURCE_NAME, "external_id": f"case-{case.id}", "channel": "survey",
           "score_type": "csat", "score": score, "customer": {"ref": customer["ref"]},
           "created_at": answered.isoformat()}  # fmt: skip
    [result] = ingest(session, raw_items=[raw], source_kind=SOURCE_KIND).results
    session.add(Followup(case_id=case.id, kind="csat", language=language,
                         sent_to=customer["email"], sent_at=case.closed_at,
                         expires_at=case.closed_at + timedelta(days=14),
                         feedback_id=result.id, answered_at=answered))  # fmt: skip
    record(session, case, EventKind.followup_sent, "system", after={"to": customer["email"]})
    record(session, case, EventKind.followup_answered, "customer", after={"score": score})
