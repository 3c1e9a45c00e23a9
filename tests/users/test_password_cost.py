"""The argon2 cost is a setting; a hash made at one cost still verifies at another."""

from collections.abc import Iterator

import argon2
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlmodel import select

from hub.config import Settings, get_settings
from hub.store.engine import session_scope
from hub.users.models import Role, User, UserCreate
from hub.users.service import check_password, create_user, password_hasher
from tests.conftest import Database

PASSWORD = "a long enough password"
EMAIL = "ana@cestia.example"
CHEAP = "m=32,t=1,p=4"  # what tests/conftest.py sets
PRODUCTION = "m=65536,t=3,p=4"


@pytest.fixture
def fresh_hasher() -> Iterator[None]:
    """Settings and hasher read again from the environment, before and after the test."""
    get_settings.cache_clear()
    password_hasher.cache_clear()
    yield
    get_settings.cache_clear()
    password_hasher.cache_clear()


def stored_hash(db: Database) -> str:
    with session_scope(db.engine) as session:
        return session.exec(select(User.password_hash)).one()


def signs_in(db: Database) -> bool:
    with session_scope(db.engine) as session:
        return check_password(session, email=EMAIL, password=PASSWORD) is not None


def test_the_production_cost_is_argon2s_recommended_one() -> None:
    fields = Settings.model_fields
    assert fields["password_time_cost"].default == argon2.DEFAULT_TIME_COST == 3
    assert fields["password_memory_kib"].default == argon2.DEFAULT_MEMORY_COST == 65536


def test_the_cost_setting_is_what_new_hashes_use(db: Database, fresh_hasher: None) -> None:
    with session_scope(db.engine) as session:
        create_user(session, data=UserCreate(email=EMAIL, password=PASSWORD, role=Role.agent))
    assert f"$argon2id$v=19${CHEAP}$" in stored_hash(db)


def test_a_production_hash_signs_in_at_the_test_cost_and_is_redone(
    db: Database, fresh_hasher: None
) -> None:
    with session_scope(db.engine) as session:
        create_user(session, data=UserCreate(email=EMAIL, password=PASSWORD, role=Role.agent))
        user = session.exec(select(User)).one()
        user.password_hash = PasswordHash((Argon2Hasher(),)).hash(PASSWORD)
    assert PRODUCTION in stored_hash(db)
    assert signs_in(db)
    assert CHEAP in stored_hash(db)


def test_a_cheap_hash_signs_in_after_the_cost_goes_up(
    db: Database, fresh_hasher: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(db.engine) as session:
        create_user(session, data=UserCreate(email=EMAIL, password=PASSWORD, role=Role.agent))
    assert CHEAP in stored_hash(db)
    monkeypatch.setenv("HUB_PASSWORD_TIME_COST", "3")
    monkeypatch.setenv("HUB_PASSWORD_MEMORY_KIB", "65536")
    get_settings.cache_clear()
    password_hasher.cache_clear()
    assert signs_in(db)
    assert PRODUCTION in stored_hash(db)
    with session_scope(db.engine) as session:
        assert check_password(session, email=EMAIL, password="wrong") is None
