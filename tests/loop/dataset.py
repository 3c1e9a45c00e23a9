"""A loop data set with known answers: five cases in November 2026 (and one before), two teams.

1. Care, Ana: first response 1 h, resolved 10 h; NPS 3 (detractor); CSAT 5; next NPS 9: recovered.
2. Care, Ana: 2 h, 20 h; NPS 5; CSAT 2; a 10 before the close (not counted), then 4: not recovered.
3. Care, Ana: 3 h, still open; NPS 8.
4. Billing, Bo: 4 h, 30 h; NPS 0; thumbs up; no later NPS yet: awaiting.
5. Billing, nobody: no response, open; NPS 2, no customer.
6. Care, Ana: opened in October, outside the window.

Overall: first response median 2.5 h, p90 3.7 h (1 awaiting); resolution median 20 h, p90 28 h
(2 open); CSAT 2 of 3 satisfied; recovery 1 of 2, 1 awaiting.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from hub.cases.models import Case, Status
from hub.feedback.service import ingest
from hub.loop.models import Followup
from hub.store.engine import session_scope
from hub.users.models import Role, Team, TeamMember, User

OPENED = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
WINDOW = {"from": "2026-11-01", "to": "2026-11-30"}
EMAILS = {"ana": "ana@cestia.example", "bo": "bo@cestia.example"}


@dataclass(frozen=True)
class Loop:
    """The ids the tests refer to."""

    cases: list[int]
    care: int
    billing: int
    ana: int
    bo: int


def build(engine: Engine, *, ana: int | None = None, bo: int | None = None) -> Loop:
    """The data set above; ``ana`` and ``bo`` may be existing (signed-in) users."""
    with session_scope(engine) as session:
        ana = ana or _person(session, "Ana Agent", EMAILS["ana"])
        bo = bo or _person(session, "Bo Agent", EMAILS["bo"])
        care, billing = Team(name="Care"), Team(name="Billing")
        session.add_all([care, billing])
        session.flush()
        assert care.id is not None and billing.id is not None
        session.add_all([TeamMember(team_id=care.id, user_id=ana),
                         TeamMember(team_id=billing.id, user_id=bo)])  # fmt: skip
        plan = [  # (team, agent, first response h, resolved h, NPS, customer, opened)
            (care.id, ana, 1, 10, 3, "c1", OPENED),
            (care.id, ana, 2, 20, 5, "c2", OPENED),
            (care.id, ana, 3, None, 8, "c3", OPENED),
            (billing.id, bo, 4, 30, 0, "c4", OPENED),
            (billing.id, None, None, None, 2, None, OPENED),
            (care.id, ana, 1, 1, 1, "c6", datetime(2026, 10, 15, tzinfo=UTC)),
        ]
        cases = [_case(session, n, *row) for n, row in enumerate(plan, 1)]
        _answer(session, cases[0], "csat", 5, "c1")
        _answer(session, cases[1], "csat", 2, "c2")
        _answer(session, cases[3], "thumbs", 1, "c4")
        _nps(session, "c1", 9, OPENED + timedelta(days=10))  # after the close: recovered
        _nps(session, "c2", 10, OPENED + timedelta(hours=12))  # before the close: not counted
        _nps(session, "c2", 4, OPENED + timedelta(days=15))  # the next one after: detractor
        return Loop(cases, care.id, billing.id, ana, bo)


def _person(session, name: str, email: str) -> int:  # type: ignore[no-untyped-def]
    user = User(email=email, name=name, password_hash="-", role=Role.agent.value)
    session.add(user)
    session.flush()
    assert user.id is not None
    return user.id


def _case(session, n, team, agent, responded, resolved, nps, customer, opened) -> int:  # type: ignore[no-untyped-def]
    raw = {
        "source": "survey", "external_id": f"loop-{n}", "channel": "survey",
        "text": f"Case {n}: the refund still has not arrived", "score_type": "nps", "score": nps,
        "created_at": (opened - timedelta(hours=1)).isoformat(),
        **({"customer": {"ref": customer, "email": f"{customer}@example.com"}} if customer else {}),
    }  # fmt: skip
    [result] = ingest(session, raw_items=[raw]).results
    assert result.id is not None
    status = Status.in_progress if agent else Status.new
    case = Case(feedback_id=result.id, team_id=team, assignee_id=agent, created_at=opened,
                updated_at=opened, status=status.value)  # fmt: skip
    if responded is not None:
        case.first_response_at = opened + timedelta(hours=responded)
    if resolved is not None:
        case.resolved_at = case.closed_at = opened + timedelta(hours=resolved)
        case.status = Status.closed.value
    session.add(case)
    session.flush()
    assert case.id is not None
    return case.id


def _answer(session, case_id: int, kind: str, score: int, customer: str) -> None:  # type: ignore[no-untyped-def]
    raw = {"source": "follow-ups", "external_id": f"case-{case_id}", "channel": "survey",
           "score_type": kind, "score": score, "customer": {"ref": customer},
           "created_at": (OPENED + timedelta(days=2)).isoformat()}  # fmt: skip
    [result] = ingest(session, raw_items=[raw], source_kind="followup").results
    at = OPENED + timedelta(days=2)
    session.add(Followup(case_id=case_id, kind=kind, language="en", sent_to="x@example.com",
                         sent_at=at, expires_at=at + timedelta(days=14), feedback_id=result.id,
                         answered_at=at))  # fmt: skip


def _nps(session, customer: str, score: int, at: datetime) -> None:  # type: ignore[no-untyped-def]
    raw = {"source": "survey", "external_id": f"nps-{customer}-{score}", "channel": "survey",
           "score_type": "nps", "score": score, "customer": {"ref": customer},
           "created_at": at.isoformat()}  # fmt: skip
    ingest(session, raw_items=[raw])
