"""People's corrections of what the models said about an item (they become training data)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from hub.errors import NotFound
from hub.feedback.models import Feedback
from hub.metrics.service import tracking

SCORES = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}


class SentimentCorrection(BaseModel):
    """The sentiment a person reads in an item."""

    model_config = ConfigDict(extra="forbid")

    sentiment: Literal["negative", "neutral", "positive"]


def correct_sentiment(session: Session, *, feedback_id: int, sentiment: str) -> None:
    """Set an item's sentiment by hand; workers keep it, `nlp train-sentiment` learns from it."""
    feedback = session.get(Feedback, feedback_id)
    if feedback is None:
        raise NotFound(f"no feedback with id {feedback_id}")
    with tracking(session, [feedback_id]):
        feedback.sentiment = sentiment
        feedback.sentiment_score = SCORES[sentiment]
        feedback.sentiment_confidence = 1.0
        feedback.sentiment_by = "person"
        session.add(feedback)
        session.flush()
