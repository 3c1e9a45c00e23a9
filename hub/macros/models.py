"""The ReplyTemplate table and its API schemas; placeholders are checked when one is saved."""

from datetime import datetime
from string import Formatter

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from hub.store.storable import no_nul
from hub.store.types import BigId, UTCDateTime, utcnow

PLACEHOLDERS = ("customer_name", "case_id", "agent_name", "team")
LANGUAGE_PATTERN = r"^[a-z]{2,3}$"


class ReplyTemplate(SQLModel, table=True):
    """A canned reply in one language; its subject and body may hold ``PLACEHOLDERS``."""

    __tablename__ = "reply_template"
    __table_args__ = (UniqueConstraint("name", "language", name="uq_reply_template_name_lang"),)

    id: int | None = SQLField(default=None, sa_type=BigId, primary_key=True)
    name: str = SQLField(max_length=100)
    language: str = SQLField(max_length=8)
    subject: str = SQLField(default="", max_length=300)
    body: str = SQLField(sa_type=Text)
    created_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def unknown_placeholders(text: str) -> list[str]:
    """The ``{names}`` in ``text`` that are not ``PLACEHOLDERS``; raises ValueError when a brace
    is unbalanced (write ``{{`` and ``}}`` for a literal brace)."""
    unknown = []
    for _literal, field, spec, conversion in Formatter().parse(text):
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            unknown.append("{" + field + (f"!{conversion}" if conversion else "")
                           + (f":{spec}" if spec else "") + "}")  # fmt: skip
    return unknown


def _checked(text: str) -> str:
    try:
        unknown = unknown_placeholders(text)
    except ValueError as exc:
        raise ValueError(f"{exc}; write {{{{ and }}}} for a literal brace") from None
    if unknown:
        allowed = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
        raise ValueError(f"unknown placeholder {', '.join(unknown)}: use {allowed}")
    return text


class MacroIn(BaseModel):
    """A reply template: its subject and body may use {customer_name}, {case_id},
    {agent_name} and {team}."""

    name: str = Field(min_length=1, max_length=100)
    language: str = Field(pattern=LANGUAGE_PATTERN, description="a language code, e.g. en")
    subject: str = Field(default="", max_length=300)
    body: str = Field(min_length=1, max_length=10_000)

    @field_validator("name", "subject", "body")
    @classmethod
    def _storable(cls, value: str) -> str:
        return no_nul(value)

    @field_validator("name", "body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("subject", "body")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        return _checked(value)


class MacroPublic(BaseModel):
    """A reply template."""

    id: int
    name: str
    language: str
    subject: str
    body: str
    created_at: datetime
    updated_at: datetime


class RenderedMacro(BaseModel):
    """A template filled in for one case, ready to send."""

    macro_id: int
    case_id: int
    language: str
    subject: str
    body: str
