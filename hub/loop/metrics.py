"""The loop metrics: response and resolution times, follow-up CSAT and detractor recovery.

Cases count in a window by when they were opened. Per case (``CaseFacts``):

- first response and resolution: hours from the case's creation to ``first_response_at`` and
  ``resolved_at``; cases without one yet are counted apart (``pending``), not as zero or
  infinity;
- CSAT: closed cases whose follow-up was answered; satisfied is CSAT 4-5 or a thumbs up;
- recovery: a case opened for an NPS detractor (0-6) and closed is *recovered* when the same
  customer's next NPS answer given after the close is passive or promoter (7-10), *not
  recovered* when it is a detractor again, and *awaiting* while there is no later answer; the
  rate is recovered / (recovered + not recovered).
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from hub.cases.models import Case
from hub.feedback.models import Feedback, ScoreType
from hub.loop.models import Followup, LoopMetrics, LoopRow, Share, Spread
from hub.loop.stats import percentile, wilson
from hub.users.models import Team, User

DETRACTOR_MAX, SATISFIED_CSAT = 6, 4
HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the loop metrics read of one case."""

    case_id: int
    team_id: int | None
    assignee_id: int | None
    first_response_hours: float | None
    resolution_hours: float | None
    satisfied: bool | None  # None: not closed, or no answered follow-up
    recovery: str | None  # recovered, not_recovered, awaiting; None: not a closed detractor


# Which cases each drill-down shows.
DRILLS: dict[str, Callable[[CaseFacts], bool]] = {
    "all": lambda f: True,
    "responded": lambda f: f.first_response_hours is not None,
    "awaiting_response": lambda f: f.first_response_hours is None,
    "resolved": lambda f: f.resolution_hours is not None,
    "unresolved": lambda f: f.resolution_hours is None,
    "csat": lambda f: f.satisfied is not None,
    "satisfied": lambda f: f.satisfied is True,
    "recovery": lambda f: f.recovery in ("recovered", "not_recovered"),
    "recovered": lambda f: f.recovery == "recovered",
    "recovery_awaiting": lambda f: f.recovery == "awaiting",
}


def case_facts(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    team_id: int | None = None,
    assignee_id: int | None = None,
) -> list[CaseFacts]:
    """The facts of the cases opened in [start, end), optionally of one team or agent."""
    answer = aliased(Feedback)  # the follow-up's answer, beside the case's own feedback
    columns: list[Any] = [
        Case.id, Case.team_id, Case.assignee_id, Case.created_at, Case.first_response_at,
        Case.resolved_at, Case.closed_at, Feedback.score_type, Feedback.score,
        Feedback.customer_id, answer.score_type, answer.score,
    ]  # fmt: skip
    query = (
        sa_select(*columns)
        .join(Feedback, col(Feedback.id) == col(Case.feedback_id))
        .outerjoin(Followup, col(Followup.case_id) == col(Case.id))
        .outerjoin(answer, col(answer.id) == col(Followup.feedback_id))
        .order_by(col(Case.id))
    )  # fmt: skip
    window = _in_window(start, end, team_id, assignee_id)
    rows = session.execute(query.where(*window)).all()
    recovery = _recovery(session, rows, window)
    return [
        CaseFacts(
            case_id=row[0],
            team_id=row[1],
            assignee_id=row[2],
            first_response_hours=_hours(row[3], row[4]),
            resolution_hours=_hours(row[3], row[5]),
            satisfied=_satisfied(row[10], row[11]) if row[6] is not None else None,
            recovery=recovery.get(row[0]),
        )
        for row in rows
    ]


def _in_window(
    start: datetime, end: datetime, team_id: int | None, assignee_id: int | None
) -> list[ColumnElement[bool]]:
    conditions = [col(Case.created_at) >= start, col(Case.created_at) < end]
    if team_id is not None:
        conditions.append(col(Case.team_id) == team_id)
    if assignee_id is not None:
        conditions.append(col(Case.assignee_id) == assignee_id)
    return conditions


def loop_metrics(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    team_id: int | None = None,
    assignee_id: int | None = None,
) -> LoopMetrics:
    """The loop metrics of a window: overall, by team and by agent."""
    facts = case_facts(session, start=start, end=end, team_id=team_id, assignee_id=assignee_id)
    teams = dict(session.exec(select(Team.id, Team.name)).all())
    people = {u.id: u.name or u.email for u in session.exec(select(User)).all()}
    return LoopMetrics(
        start=start,
        end=end,
        overall=loop_row(facts, key=None, name="All cases"),
        by_team=_grouped(facts, lambda f: f.team_id, teams, "No team"),
        by_agent=_grouped(facts, lambda f: f.assignee_id, people, "Unassigned"),
    )


def loop_row(facts: list[CaseFacts], *, key: int | None, name: str) -> LoopRow:
    """The metrics of one group of cases."""
    csat = [f.satisfied for f in facts if f.satisfied is not None]
    measured = [f.recovery for f in facts if f.recovery in ("recovered", "not_recovered")]
    return LoopRow(
        key=key,
        name=name,
        cases=len(facts),
        first_response=_spread([f.first_response_hours for f in facts]),
        resolution=_spread([f.resolution_hours for f in facts]),
        csat=share(sum(csat), len(csat)),
        recovery=share(measured.count("recovered"), len(measured)),
        recovery_awaiting=sum(f.recovery == "awaiting" for f in facts),
    )


def drill(facts: Iterable[CaseFacts], metric: str) -> list[int]:
    """The ids of the cases behind ``metric`` (a key of ``DRILLS``)."""
    keep = DRILLS[metric]
    return [f.case_id for f in facts if keep(f)]


def share(hits: int, n: int) -> Share:
    """A proportion with its Wilson interval."""
    interval = wilson(hits, n)
    return Share(
        n=n, hits=hits, rate=hits / n if n else None,
        ci_low=interval[0] if interval else None, ci_high=interval[1] if interval else None,
    )  # fmt: skip


def _spread(hours: list[float | None]) -> Spread:
    known = [h for h in hours if h is not None]
    return Spread(
        n=len(known), pending=len(hours) - len(known),
        median_hours=_round(percentile(known, 0.5)), p90_hours=_round(percentile(known, 0.9)),
    )  # fmt: skip


def _grouped(
    facts: list[CaseFacts],
    key: Callable[[CaseFacts], int | None],
    names: dict[int | None, str],
    nobody: str,
) -> list[LoopRow]:
    groups: dict[int | None, list[CaseFacts]] = {}
    for fact in facts:
        groups.setdefault(key(fact), []).append(fact)
    rows = [
        loop_row(members, key=k, name=names.get(k, f"#{k}") if k is not None else nobody)
        for k, members in groups.items()
    ]
    return sorted(rows, key=lambda row: (row.key is None, row.name.lower()))


def _satisfied(score_type: str | None, score: int | None) -> bool | None:
    """Whether a follow-up answer is satisfied: CSAT 4-5 or a thumbs up; None unanswered."""
    if score is None:
        return None
    return score >= SATISFIED_CSAT if score_type == ScoreType.csat else score == 1


def _recovery(
    session: Session, rows: Sequence[Any], window: list[ColumnElement[bool]]
) -> dict[int, str]:
    """For each closed detractor case, the customer's next NPS after the close."""
    detractors = {
        row[0]: (row[9], row[6]) for row in rows
        if row[6] is not None and row[9] is not None and row[7] == ScoreType.nps
        and row[8] is not None and row[8] <= DETRACTOR_MAX
    }  # fmt: skip
    if not detractors:
        return {}
    # Their customers, as a subquery of the same window (no list of ids: any size works).
    customers = (
        select(Feedback.customer_id)
        .join(Case, col(Case.feedback_id) == col(Feedback.id))
        .where(*window, col(Case.closed_at).is_not(None), col(Feedback.score) <= DETRACTOR_MAX)
        .where(col(Feedback.score_type) == ScoreType.nps.value)
    )
    earliest = min(closed for _customer, closed in detractors.values())
    later = session.exec(
        select(Feedback.customer_id, Feedback.created_at, Feedback.score)
        .where(col(Feedback.customer_id).in_(customers.scalar_subquery()))
        .where(col(Feedback.score_type) == ScoreType.nps.value)
        .where(col(Feedback.created_at) > earliest, col(Feedback.score).is_not(None))
        .order_by(col(Feedback.created_at), col(Feedback.id))
    ).all()
    answers: dict[int, list[tuple[datetime, int]]] = {}
    for customer, at, score in later:  # each customer's answers, oldest first
        if customer is not None and score is not None:
            answers.setdefault(customer, []).append((at, score))
    outcome: dict[int, str] = {}
    for case_id, (customer, closed) in detractors.items():
        mine = answers.get(customer, [])
        next_score = next((score for at, score in mine if at > closed), None)
        if next_score is None:
            outcome[case_id] = "awaiting"
        else:
            outcome[case_id] = "recovered" if next_score > DETRACTOR_MAX else "not_recovered"
    return outcome


def _hours(start: datetime, end: datetime | None) -> float | None:
    return max(0.0, (end - start).total_seconds() / HOUR) if end is not None else None


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None
