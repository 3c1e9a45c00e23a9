"""JSON API for users and teams (admins), and the team list (everyone)."""

from fastapi import APIRouter, status

from hub.auth.sessions import sign_out_everywhere
from hub.http.deps import AdminKey, ReadKey, SessionDep
from hub.http.params import BodyId, PathId
from hub.users.models import (
    TeamCreate,
    TeamPublic,
    TeamUpdate,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from hub.users.service import (
    create_team,
    create_user,
    list_teams,
    list_users,
    set_members,
    update_team,
    update_user,
)

router = APIRouter(prefix="/api/v1", tags=["users"])


@router.get("/users", summary="List users")
def users(session: SessionDep, _who: AdminKey) -> list[UserPublic]:
    """Every user with role and teams."""
    return list_users(session)


@router.post("/users", summary="Add a user", status_code=status.HTTP_201_CREATED)
def add_user(data: UserCreate, session: SessionDep, _who: AdminKey) -> UserPublic:
    """A new user who can sign in with the given password."""
    return create_user(session, data=data)


@router.patch("/users/{user_id}", summary="Change a user")
def change_user(
    user_id: PathId, data: UserUpdate, session: SessionDep, _who: AdminKey
) -> UserPublic:
    """Role, name, active flag or password; a new password or deactivation signs them out."""
    changed = update_user(session, user_id=user_id, changes=data)
    if data.password is not None or data.active is False:
        sign_out_everywhere(session, user_id=user_id)
    return changed


@router.get("/teams", summary="List teams")
def teams(session: SessionDep, _who: ReadKey) -> list[TeamPublic]:
    """Every team and its members' ids."""
    return list_teams(session)


@router.post("/teams", summary="Add a team", status_code=status.HTTP_201_CREATED)
def add_team(data: TeamCreate, session: SessionDep, _who: AdminKey) -> TeamPublic:
    """A new, empty team."""
    return create_team(session, data=data)


@router.put("/teams/{team_id}/members", summary="Set a team's members")
def members(
    team_id: PathId, user_ids: list[BodyId], session: SessionDep, _who: AdminKey
) -> TeamPublic:
    """Exactly these users become the team's members."""
    return set_members(session, team_id=team_id, user_ids=user_ids)


@router.patch("/teams/{team_id}", summary="Change a team's SLA settings and lead")
def change_team(
    team_id: PathId, data: TeamUpdate, session: SessionDep, _who: AdminKey
) -> TeamPublic:
    """Time zone, opening hours (the SLA counts only these), escalation on breach, lead."""
    return update_team(session, team_id=team_id, changes=data)
