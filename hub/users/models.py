"""The User, Team and TeamMember tables and their schemas."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from sqlalchemy import UniqueConstraint
from sqlmodel import Column, ForeignKey, SQLModel
from sqlmodel import Field as SQLField

from hub.cases.sla import OpeningHours, parse_hours, zone_named
from hub.customers.models import Email
from hub.http.params import BodyId, Changes
from hub.store.types import BigId, JsonValue, UTCDateTime, utcnow
from hub.users.passwords import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, check_password_strength


class Role(StrEnum):
    """What a person may do; each role may do all that the ones below it may."""

    viewer = "viewer"  # reads feedback, cases, trends
    agent = "agent"  # works cases assigned to them or their teams
    lead = "lead"  # triages queues, assigns, edits routing rules
    admin = "admin"  # users, teams, sources, keys

    @property
    def rank(self) -> int:
        """Position in viewer < agent < lead < admin."""
        return list(Role).index(self)

    def allows(self, needed: "Role") -> bool:
        """Whether this role may do what ``needed`` may."""
        return self.rank >= needed.rank


class User(SQLModel, table=True):
    """A person who signs in. Only an argon2 hash of the password is stored."""

    __tablename__ = "user_account"

    id: int | None = SQLField(default=None, sa_type=BigId, primary_key=True)
    email: str = SQLField(max_length=320, unique=True)
    name: str = SQLField(max_length=200)
    password_hash: str = SQLField(max_length=255)
    role: str = SQLField(max_length=16)
    active: bool = True
    created_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_login_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)


class Team(SQLModel, table=True):
    """A group of people that owns feedback (cases are routed to teams)."""

    __tablename__ = "team"

    id: int | None = SQLField(default=None, sa_type=BigId, primary_key=True)
    name: str = SQLField(max_length=100, unique=True)
    description: str = SQLField(default="", max_length=500)
    # Its SLA clocks count only its opening hours in its time zone (none: 24x7).
    timezone: str = SQLField(default="UTC", max_length=64)
    business_hours: dict[str, list[str]] | None = SQLField(
        default=None, sa_column=Column(JsonValue)
    )
    # Who breached cases go to (a member), and whether a breach raises priority and reassigns.
    lead_id: int | None = SQLField(
        default=None, sa_column=Column(BigId, ForeignKey("user_account.id", ondelete="SET NULL"))
    )
    escalate_on_breach: bool = True
    created_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class TeamMember(SQLModel, table=True):
    """A person's membership of a team."""

    __tablename__ = "team_member"
    __table_args__ = (UniqueConstraint("team_id", "user_id", name="uq_team_member"),)

    id: int | None = SQLField(default=None, sa_type=BigId, primary_key=True)
    team_id: int = SQLField(
        sa_column=Column(BigId, ForeignKey("team.id", ondelete="CASCADE"), nullable=False)
    )
    user_id: int = SQLField(
        sa_column=Column(
            BigId, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )


class UserCreate(BaseModel):
    """A new user."""

    email: Email
    name: str = Field(default="", max_length=200)
    password: str = Field(min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)
    role: Role = Role.agent

    @field_validator("password")
    @classmethod
    def _hard_to_guess(cls, password: str, info: ValidationInfo) -> str:
        known = [info.data.get("email", ""), info.data.get("name", "")]
        return check_password_strength(password, known_words=known)


class UserUpdate(Changes):
    """Changes to a user; a new password signs them out everywhere."""

    name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(
        default=None, min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS
    )

    @field_validator("password")
    @classmethod
    def _hard_to_guess(cls, password: str | None, info: ValidationInfo) -> str | None:
        if password is None:
            return None
        return check_password_strength(password, known_words=[info.data.get("name") or ""])


class UserPublic(BaseModel):
    """A user as pages and the API show them."""

    id: int
    email: str
    name: str
    role: Role
    active: bool
    created_at: datetime
    last_login_at: datetime | None
    teams: list[str] = []


def _known_zone(name: str) -> str:
    zone_named(name)
    return name


def _valid_hours(hours: OpeningHours | None) -> OpeningHours | None:
    if hours:
        parse_hours(hours)
    return hours or None


class TeamSla(BaseModel):
    """How a team's SLA clocks run and what a breach does."""

    timezone: str = Field(
        default="UTC", max_length=64, description="IANA time zone, e.g. Europe/Lisbon"
    )
    business_hours: OpeningHours | None = Field(
        default=None,
        description='opening hours per weekday in local time, e.g. {"mon": ["09:00", "18:00"]};'
        " a day left out is closed; none: 24x7",
    )
    escalate_on_breach: bool = Field(
        default=True, description="on breach: raise the priority one step, give it to the lead"
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        return _known_zone(name)

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, hours: OpeningHours | None) -> OpeningHours | None:
        return _valid_hours(hours)


class TeamCreate(TeamSla):
    """A new team."""

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)


class TeamUpdate(Changes):
    """Changes to a team's SLA settings and lead (``null`` hours: 24x7, ``null`` lead: none)."""

    nullable = frozenset({"business_hours", "lead_id"})

    timezone: str | None = Field(default=None, max_length=64)
    business_hours: OpeningHours | None = None
    lead_id: BodyId | None = Field(default=None, description="a member of the team")
    escalate_on_breach: bool | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str | None) -> str | None:
        return _known_zone(name) if name is not None else None

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, hours: OpeningHours | None) -> OpeningHours | None:
        return _valid_hours(hours)


class TeamPublic(TeamSla):
    """A team, its members' ids, its lead and its SLA settings."""

    id: int
    name: str
    description: str
    members: list[int]
    lead_id: int | None = None
