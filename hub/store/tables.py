"""Imports every table module so ``SQLModel.metadata`` knows the whole schema."""

from sqlmodel import SQLModel

from hub.auth.models import ApiKey, LoginAttempt, UserSession
from hub.cases.models import Case, CaseEvent
from hub.customers.models import Customer
from hub.feedback.models import Feedback
from hub.loop.models import Followup
from hub.macros.models import ReplyTemplate
from hub.metrics.models import FeedbackRollup, TopicRollup
from hub.notifications.models import OutboxMessage
from hub.observability.models import WorkerHeartbeat
from hub.routing.models import RoutingDecision, RoutingRule
from hub.sources.models import Source, SourceRun
from hub.surveys.models import Survey
from hub.topics.models import FeedbackTopic, Topic
from hub.users.models import Team, TeamMember, User

metadata = SQLModel.metadata

__all__ = [
    "ApiKey",
    "Case",
    "CaseEvent",
    "Customer",
    "Feedback",
    "FeedbackRollup",
    "FeedbackTopic",
    "Followup",
    "LoginAttempt",
    "OutboxMessage",
    "ReplyTemplate",
    "RoutingDecision",
    "RoutingRule",
    "Source",
    "SourceRun",
    "Survey",
    "Team",
    "TeamMember",
    "Topic",
    "TopicRollup",
    "User",
    "UserSession",
    "WorkerHeartbeat",
    "metadata",
]
