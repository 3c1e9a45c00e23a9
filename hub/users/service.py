"""Users and teams: creating, changing, checking passwords."""

from functools import cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlmodel import Session, col, select

from hub.config import get_settings
from hub.customers.models import normalised_email
from hub.errors import Conflict, InvalidInput, NotFound
from hub.store.types import utcnow
from hub.users.models import (
    Role,
    Team,
    TeamCreate,
    TeamMember,
    TeamPublic,
    TeamUpdate,
    User,
    UserCreate,
    UserPublic,
    UserUpdate,
)


@cache
def password_hasher() -> PasswordHash:
    """argon2id at the cost the settings give (read once per process). Each hash carries its
    own parameters, so hashes made at another cost still verify, and are redone on sign-in."""
    settings = get_settings()
    hasher = Argon2Hasher(
        time_cost=settings.password_time_cost, memory_cost=settings.password_memory_kib
    )
    return PasswordHash((hasher,))


@cache
def _dummy_hash() -> str:
    """Checked when the email is unknown, so a wrong address costs as long as a wrong password."""
    return password_hasher().hash("no user has this password")


def create_user(session: Session, *, data: UserCreate) -> UserPublic:
    """A new user; the email must be free."""
    if session.exec(select(User.id).where(User.email == data.email)).first() is not None:
        raise Conflict(f"a user with the email {data.email} already exists")
    user = User(
        email=data.email,
        name=data.name.strip() or data.email.split("@")[0],
        password_hash=password_hasher().hash(data.password),
        role=data.role.value,
    )
    session.add(user)
    session.flush()
    return user_public(session, user)


def check_password(session: Session, *, email: str, password: str) -> User | None:
    """The active user with this email and password, or None (in constant-ish time)."""
    try:
        address = normalised_email(email.strip())
    except ValueError:
        address = ""
    user = session.exec(select(User).where(User.email == address)).first() if address else None
    if user is None:
        password_hasher().verify(password, _dummy_hash())
        return None
    valid, new_hash = password_hasher().verify_and_update(password, user.password_hash)
    if not valid or not user.active:
        return None
    if new_hash is not None:  # made at another cost: keep the hash current
        user.password_hash = new_hash
    user.last_login_at = utcnow()
    session.add(user)
    return user


def update_user(session: Session, *, user_id: int, changes: UserUpdate) -> UserPublic:
    """Change a user's name, role, active flag or password."""
    user = get_user(session, user_id=user_id)
    if changes.name is not None:
        user.name = changes.name.strip() or user.name
    if changes.role is not None or changes.active is False:
        _keep_an_admin(session, user, changes)
    if changes.role is not None:
        user.role = changes.role.value
    if changes.active is not None:
        user.active = changes.active
    if changes.password is not None:
        user.password_hash = password_hasher().hash(changes.password)
    session.add(user)
    session.flush()
    return user_public(session, user)


def _keep_an_admin(session: Session, user: User, changes: UserUpdate) -> None:
    """Refuse a change that would leave the hub with no active admin."""
    if user.role != Role.admin or (changes.role == Role.admin and changes.active is not False):
        return
    others = session.exec(
        select(User.id).where(User.role == Role.admin.value, col(User.active).is_(True))
        .where(User.id != user.id)
    ).first()  # fmt: skip
    if others is None:
        raise InvalidInput("this is the last active admin: make another admin first")


def get_user(session: Session, *, user_id: int) -> User:
    """The user with this id."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    return user


def list_users(session: Session) -> list[UserPublic]:
    """Every user, by email."""
    users = session.exec(select(User).order_by(col(User.email))).all()
    return [user_public(session, user) for user in users]


def user_public(session: Session, user: User) -> UserPublic:
    """A user with the names of their teams."""
    teams = session.exec(
        select(Team.name).join(TeamMember, col(TeamMember.team_id) == col(Team.id))
        .where(TeamMember.user_id == user.id).order_by(col(Team.name))
    ).all()  # fmt: skip
    assert user.id is not None
    return UserPublic(
        id=user.id, email=user.email, name=user.name, role=Role(user.role), active=user.active,
        created_at=user.created_at, last_login_at=user.last_login_at, teams=list(teams),
    )  # fmt: skip


def create_team(session: Session, *, data: TeamCreate) -> TeamPublic:
    """A new team; its name must be free."""
    name = data.name.strip()
    if session.exec(select(Team.id).where(Team.name == name)).first() is not None:
        raise Conflict(f"a team named {name!r} already exists")
    team = Team(
        name=name,
        description=data.description.strip(),
        timezone=data.timezone,
        business_hours=data.business_hours,
        escalate_on_breach=data.escalate_on_breach,
    )
    session.add(team)
    session.flush()
    return team_public(session, team)


def get_team(session: Session, *, team_id: int) -> Team:
    """The team with this id."""
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(f"no team with id {team_id}")
    return team


def update_team(session: Session, *, team_id: int, changes: TeamUpdate) -> TeamPublic:
    """Change a team's time zone, opening hours, escalation or lead (who must be a member)."""
    team = get_team(session, team_id=team_id)
    given = changes.model_fields_set
    if "lead_id" in given and changes.lead_id is not None:
        members = session.exec(select(TeamMember.user_id).where(TeamMember.team_id == team_id))
        if changes.lead_id not in members.all():
            raise InvalidInput(f"user {changes.lead_id} is not a member of {team.name!r}")
    for name in given & {"timezone", "business_hours", "lead_id", "escalate_on_breach"}:
        setattr(team, name, getattr(changes, name))
    session.add(team)
    session.flush()
    return team_public(session, team)


def set_members(session: Session, *, team_id: int, user_ids: list[int]) -> TeamPublic:
    """Make exactly these users the team's members (a lead who leaves stops being lead)."""
    team = get_team(session, team_id=team_id)
    for user_id in user_ids:
        get_user(session, user_id=user_id)
    current = session.exec(select(TeamMember).where(TeamMember.team_id == team_id)).all()
    for member in current:
        if member.user_id not in user_ids:
            session.delete(member)
    known = {member.user_id for member in current}
    for user_id in dict.fromkeys(user_ids):
        if user_id not in known:
            session.add(TeamMember(team_id=team_id, user_id=user_id))
    if team.lead_id not in user_ids:
        team.lead_id = None
        session.add(team)
    session.flush()
    return team_public(session, team)


def list_teams(session: Session) -> list[TeamPublic]:
    """Every team, by name."""
    teams = session.exec(select(Team).order_by(col(Team.name))).all()
    return [team_public(session, team) for team in teams]


def team_public(session: Session, team: Team) -> TeamPublic:
    """A team and its members' ids."""
    members = session.exec(
        select(TeamMember.user_id).where(TeamMember.team_id == team.id)
        .order_by(col(TeamMember.user_id))
    ).all()  # fmt: skip
    assert team.id is not None
    return TeamPublic(id=team.id, name=team.name, description=team.description,
                      members=list(members), lead_id=team.lead_id, timezone=team.timezone,
                      business_hours=team.business_hours,
                      escalate_on_breach=team.escalate_on_breach)  # fmt: skip
