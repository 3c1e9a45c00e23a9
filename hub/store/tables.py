"""Imports every table module so ``SQLModel.metadata`` knows the whole schema."""

from sqlmodel import SQLModel

from hub.auth.models import ApiKey
from hub.customers.models import Customer
from hub.feedback.models import Feedback
from hub.sources.models import Source

metadata = SQLModel.metadata

__all__ = ["ApiKey", "Customer", "Feedback", "Source", "metadata"]
