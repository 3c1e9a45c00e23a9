"""Reading one customer: who they are, their feedback history, their cases and their risk."""

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Session, col, select

from hub.cases.models import Case, CasePublic
from hub.cases.queries import publics
from hub.customers.models import Customer, CustomerPublic
from hub.customers.risk import CustomerRisk, customer_public, customer_risk
from hub.errors import NotFound
from hub.feedback.models import Feedback, FeedbackPage
from hub.feedback.queries import FeedbackFilters, list_feedback

MAX_CASES = 200
MAX_SCORES = 500


class ScorePoint(BaseModel):
    """One score the customer gave, for a chart over time."""

    feedback_id: int
    at: datetime
    score_type: str
    score: int


class CustomerDetail(BaseModel):
    """A customer with a page of their feedback (newest first), their cases, scores and risk."""

    customer: CustomerPublic
    risk: CustomerRisk
    feedback: FeedbackPage
    cases: list[CasePublic]
    scores: list[ScorePoint]


def customer_detail(
    session: Session, *, customer_id: int, days: int = 30, cursor: str | None, limit: int
) -> CustomerDetail:
    """Everything known about one customer, or NotFound."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"no customer with id {customer_id}")
    feedback = list_feedback(
        session, filters=FeedbackFilters(customer=customer.external_ref), cursor=cursor, limit=limit
    )
    return CustomerDetail(
        customer=customer_public(customer),
        risk=customer_risk(session, customer_id=customer_id, days=days),
        feedback=feedback,
        cases=cases_of(session, customer_id=customer_id),
        scores=score_history(session, customer_id=customer_id),
    )


def cases_of(session: Session, *, customer_id: int) -> list[CasePublic]:
    """The customer's cases, newest first (at most ``MAX_CASES``)."""
    query = (
        select(Case)
        .join(Feedback, col(Feedback.id) == col(Case.feedback_id))
        .where(Feedback.customer_id == customer_id)
        .order_by(col(Case.created_at).desc(), col(Case.id).desc())
        .limit(MAX_CASES)
    )
    return publics(session, list(session.exec(query).all()))


def score_history(session: Session, *, customer_id: int) -> list[ScorePoint]:
    """The customer's latest ``MAX_SCORES`` scores, oldest first."""
    query = (
        select(Feedback.id, Feedback.created_at, Feedback.score_type, Feedback.score)
        .where(Feedback.customer_id == customer_id, col(Feedback.score).is_not(None))
        .order_by(col(Feedback.created_at).desc(), col(Feedback.id).desc())
        .limit(MAX_SCORES)
    )
    points = [
        ScorePoint(feedback_id=feedback_id or 0, at=at, score_type=kind or "", score=score or 0)
        for feedback_id, at, kind, score in session.exec(query)
    ]
    return points[::-1]
