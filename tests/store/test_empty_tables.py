"""The cleanup between tests leaves every table empty and restarts the ids, on both backends."""

from sqlalchemy import func, select

from hub.store.engine import session_scope
from hub.store.tables import metadata
from hub.users.models import Role, TeamCreate, UserCreate
from hub.users.service import create_team, create_user, set_members
from tests.conftest import Database, empty_tables


def make_team_with_member(db: Database) -> tuple[int, int]:
    """A team with one member (rows that refer to each other); returns their ids."""
    with session_scope(db.engine) as session:
        data = UserCreate(email="ana@cestia.example", password="a long password", role=Role.agent)
        user = create_user(session, data=data)
        team = create_team(session, data=TeamCreate(name="Care"))
        set_members(session, team_id=team.id, user_ids=[user.id])
        return user.id, team.id


def test_every_table_is_emptied_and_ids_start_again(db: Database) -> None:
    assert make_team_with_member(db) == (1, 1)
    empty_tables(db.engine)

    with db.engine.connect() as connection:
        for table in metadata.sorted_tables:
            assert connection.execute(select(func.count()).select_from(table)).scalar() == 0
    assert make_team_with_member(db) == (1, 1)
