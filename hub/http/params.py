"""Shared parameter types: ids that fit PostgreSQL's BIGINT, dates far from overflow, and
PATCH bodies that refuse null where it means nothing."""

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, TypeVar

from fastapi import Path
from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, field_validator

from hub.store.storable import EARLIEST, LATEST

MAX_ID = 2**63 - 1  # BIGINT's largest; SQLite's rowid has the same range

PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="an id (1 to 2^63-1)")]
BodyId = Annotated[int, Field(ge=1, le=MAX_ID)]

When = TypeVar("When", date, datetime)


def _reportable(value: When) -> When:
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"must be between {EARLIEST} and {LATEST}")
    return value


QueryDate = Annotated[date, AfterValidator(_reportable)]
QueryDateTime = Annotated[datetime, AfterValidator(_reportable)]


class Changes(BaseModel):
    """A PATCH body: a field left out stays as it is; ``null`` only where ``nullable`` says
    it means something (e.g. "no parent"), else a 422 naming the field, never a silent no-op."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_meaningful(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("may be left out, but not null")
        return value
