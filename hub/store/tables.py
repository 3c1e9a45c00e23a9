"""Imports every table module so ``SQLModel.metadata`` knows the whole schema."""

from sqlmodel import SQLModel

from hub.auth.models import ApiKey
from hub.customers.models import Customer
from hub.feedback.models import Feedback
from hub.sources.models import Source, SourceRun
from hub.topics.models import FeedbackTopic, Topic

metadata = SQLModel.metadata

__all__ = [
    "ApiKey",
    "Customer",
    "Feedback",
    "FeedbackTopic",
    "Source",
    "SourceRun",
    "Topic",
    "metadata",
]
