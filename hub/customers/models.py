"""The Customer table and its schemas."""

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from sqlmodel import Column, SQLModel
from sqlmodel import Field as SQLField

from hub.store.storable import no_nul, storable_json
from hub.store.types import BigId, JsonValue, UTCDateTime, utcnow

NoNul = AfterValidator(no_nul)


class Customer(SQLModel, table=True):
    """One customer; ``external_ref`` is their id in the company's systems, else their email."""

    __tablename__ = "customer"

    id: int | None = SQLField(default=None, sa_type=BigId, primary_key=True)
    external_ref: str = SQLField(max_length=255, unique=True)
    email: str | None = SQLField(default=None, max_length=320, index=True)
    name: str | None = SQLField(default=None, max_length=200)
    segment: str | None = SQLField(default=None, max_length=100, index=True)
    attributes: dict[str, Any] = SQLField(
        default_factory=dict, sa_column=Column(JsonValue, nullable=False)
    )
    created_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


@lru_cache(maxsize=65_536)
def normalised_email(value: str) -> str:
    """A syntactically valid address, normalised; cached because customers repeat in batches."""
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None


Email = Annotated[
    str,
    Field(max_length=320, json_schema_extra={"format": "email"}),
    AfterValidator(normalised_email),
]


class CustomerIn(BaseModel):
    """A customer as an ingested item names them: ``ref`` or ``email`` identifies them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    ref: Annotated[str, Field(min_length=1, max_length=255), NoNul] | None = None
    email: Email | None = None
    name: Annotated[str, Field(max_length=200), NoNul] | None = None
    segment: Annotated[str, Field(max_length=100), NoNul] | None = None
    attributes: Annotated[dict[str, Any], AfterValidator(storable_json)] | None = None

    @model_validator(mode="after")
    def _needs_identity(self) -> "CustomerIn":
        if not self.ref and not self.email:
            raise ValueError("a customer needs a `ref` or an `email`")
        return self

    @property
    def key(self) -> str:
        """The identity this customer is stored under."""
        return self.ref or str(self.email)

    def details(self) -> "CustomerDetails":
        """The plain values the store needs."""
        return CustomerDetails(self.key, self.email, self.name, self.segment, self.attributes)


@dataclass(slots=True, frozen=True)
class CustomerDetails:
    """A validated customer reduced to plain values (cheap to pickle across processes)."""

    key: str
    email: str | None = None
    name: str | None = None
    segment: str | None = None
    attributes: dict[str, Any] | None = None


class CustomerPublic(BaseModel):
    """A customer as the API shows it."""

    id: int
    ref: str
    email: str | None
    name: str | None
    segment: str | None
    attributes: dict[str, Any]
