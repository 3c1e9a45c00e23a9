"""What the triage pages share: the signed-in user, the rules for acting, and form fields."""

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlmodel import Session

from hub.cases.models import Case
from hub.cases.service import may_work
from hub.errors import Forbidden, InvalidInput
from hub.feedback.corrections import SCORES
from hub.users.models import Role, User
from hub.users.service import list_teams, list_users
from web.auth import page_user

signed_in = page_user()  # one callable, so the routers and the routes share the cached user
UserDep = Annotated[User, Depends(signed_in)]

MAX_BODY = 10_000
SENTIMENTS = list(SCORES)


def pages_router() -> APIRouter:
    """A router for triage pages: signed-in people only, kept out of the API docs."""
    return APIRouter(include_in_schema=False, dependencies=[Depends(signed_in)])


# Who may act -------------------------------------------------------------------------------


def must_be_agent(user: User) -> None:
    """Refuse viewers: they read cases but do not change them."""
    if not Role(user.role).allows(Role.agent):
        raise Forbidden("viewers can read cases but not change them")


def workable(session: Session, user: User, case: Case) -> Case:
    """``case`` if ``user`` may work it; agents work their own and their teams' cases."""
    if not may_work(session, user, case):
        raise Forbidden(
            f"case #{case.id} is not assigned to you or to one of your teams: ask a lead"
        )
    return case


# Form fields -------------------------------------------------------------------------------


def id_choice(value: str, what: str) -> int | None:
    """A person or team chosen in a form; blank is none."""
    if not value.strip():
        return None
    if not value.strip().isdigit():
        raise InvalidInput(f"choose a {what} from the list")
    return int(value)


def body_text(value: str, what: str, *, required: bool = True) -> str:
    """A note, reply or resolution: trimmed, present when required, and not too long."""
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"write the {what} first")
    if len(text) > MAX_BODY:
        raise InvalidInput(f"the {what} is longer than {MAX_BODY:,} characters")
    return text


# Choices -----------------------------------------------------------------------------------


def people(session: Session) -> list[tuple[int, str]]:
    """Who can take cases: active agents, leads and admins."""
    return [
        (u.id, u.name or u.email) for u in list_users(session) if u.active and u.role != Role.viewer
    ]


def teams(session: Session) -> list[tuple[int, str]]:
    """Every team, as (id, name)."""
    return [(team.id, team.name) for team in list_teams(session)]
