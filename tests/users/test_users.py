"""Users and teams: hashed passwords, unique emails, an admin always left, memberships."""

from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from hub.cli import app
from hub.errors import Conflict, InvalidInput
from hub.store.engine import session_scope
from hub.users.models import Role, TeamCreate, User, UserCreate, UserUpdate
from hub.users.service import (
    check_password,
    create_team,
    create_user,
    list_teams,
    list_users,
    set_members,
    update_user,
)
from tests.conftest import Database

runner = CliRunner()


def new_user(db: Database, email: str, role: Role = Role.agent) -> int:
    with session_scope(db.engine) as session:
        data = UserCreate(email=email, password="a long enough password", role=role)
        return create_user(session, data=data).id


def test_passwords_are_stored_as_argon2_and_checked(db: Database) -> None:
    new_user(db, "Ana@Cestia.example")
    with session_scope(db.engine) as session:
        stored = session.exec(select(User)).one()
        assert stored.email == "ana@cestia.example"
        assert stored.password_hash.startswith("$argon2id$")
        assert "a long enough password" not in stored.password_hash
        assert check_password(
            session, email=" ANA@cestia.example", password="a long enough password"
        )
        assert check_password(session, email="ana@cestia.example", password="wrong") is None
        assert check_password(session, email="not an email", password="x") is None


def test_emails_are_unique(db: Database) -> None:
    new_user(db, "ana@cestia.example")
    with pytest.raises(Conflict, match="already exists"):
        new_user(db, "ANA@cestia.example")


def test_the_last_admin_cannot_be_demoted_or_deactivated(db: Database) -> None:
    admin = new_user(db, "root@cestia.example", Role.admin)
    with (
        session_scope(db.engine) as session,
        pytest.raises(InvalidInput, match="last active admin"),
    ):
        update_user(session, user_id=admin, changes=UserUpdate(role=Role.lead))
    with (
        session_scope(db.engine) as session,
        pytest.raises(InvalidInput, match="last active admin"),
    ):
        update_user(session, user_id=admin, changes=UserUpdate(active=False))
    new_user(db, "second@cestia.example", Role.admin)
    with session_scope(db.engine) as session:
        assert (
            update_user(session, user_id=admin, changes=UserUpdate(role=Role.lead)).role == "lead"
        )


def test_teams_and_members(db: Database) -> None:
    ana, bo = new_user(db, "ana@cestia.example"), new_user(db, "bo@cestia.example")
    with session_scope(db.engine) as session:
        support = create_team(session, data=TeamCreate(name="Support"))
        set_members(session, team_id=support.id, user_ids=[ana, bo, ana])
        with pytest.raises(Conflict):
            create_team(session, data=TeamCreate(name="Support"))
    with session_scope(db.engine) as session:
        set_members(session, team_id=support.id, user_ids=[bo])
        assert [team.members for team in list_teams(session)] == [[bo]]
        assert {user.email: user.teams for user in list_users(session)} == {
            "ana@cestia.example": [], "bo@cestia.example": ["Support"],
        }  # fmt: skip


def test_cli_creates_the_first_admin(cli_env: Path, db: Database) -> None:
    args = ["users", "create", "--email", "boss@cestia.example", "--password", "boss-of-cestia-7",
            "--role", "admin", "--name", "The Boss"]  # fmt: skip
    created = runner.invoke(app, args)
    assert created.exit_code == 0, created.output
    assert "boss@cestia.example (admin) created" in created.stdout
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "already exists" in again.output
    short = runner.invoke(
        app, ["users", "create", "--email", "x@cestia.example", "--password", "short"]
    )
    assert short.exit_code == 2 and "password" in short.output
    listed = runner.invoke(app, ["users", "list"])
    assert "The Boss" in listed.stdout and "admin" in listed.stdout
