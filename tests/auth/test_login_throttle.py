"""The sign-in throttle: atomic under concurrent tries, per email and client address, with a
ceiling per email (known clients spared) and one per address; on SQLite and PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlmodel import Session, col, func, select

from hub.auth.models import LoginAttempt
from hub.auth.sessions import LoginLimits, TooManyAttempts, sign_in
from hub.errors import Unauthorized
from hub.store.engine import session_scope
from hub.store.types import utcnow
from hub.users.models import Role
from tests.conftest import Database
from tests.signin import PASSWORD, make_user

ATTACKER = "203.0.113.66"
OWN_CLIENT = "198.51.100.7"


def try_sign_in(
    db: Database, email: str, password: str, ip: str, limits: LoginLimits = LoginLimits()
) -> str:
    with Session(db.engine, expire_on_commit=False) as session:
        try:
            sign_in(session, email=email, password=password, ip=ip, limits=limits)
        except TooManyAttempts:
            return "throttled"
        except Unauthorized:
            return "wrong"
        session.commit()
        return "signed in"


def failures(db: Database, email: str) -> int:
    with Session(db.engine) as session:
        query = select(func.count()).where(
            LoginAttempt.email == email, col(LoginAttempt.succeeded).is_(False)
        )
        return session.exec(query).one()


def test_concurrent_wrong_passwords_never_exceed_the_limit(db: Database) -> None:
    email = make_user(db.engine, Role.agent)
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(
            pool.map(lambda _: try_sign_in(db, email, "a wrong guess", ATTACKER), range(40))
        )
    assert outcomes.count("wrong") == 5
    assert outcomes.count("throttled") == 35
    assert failures(db, email) == 5


def test_guessing_from_elsewhere_does_not_lock_out_the_owner(db: Database) -> None:
    email = make_user(db.engine, Role.agent)
    for _ in range(5):
        assert try_sign_in(db, email, "a wrong guess", ATTACKER) == "wrong"
    assert try_sign_in(db, email, PASSWORD, ATTACKER) == "throttled"  # even the right one
    assert try_sign_in(db, email, PASSWORD, OWN_CLIENT) == "signed in"


def test_the_ceiling_per_email_spares_clients_that_signed_in_before(db: Database) -> None:
    limits = LoginLimits(per_email_and_address=2, per_email=4, per_address=100)
    email = make_user(db.engine, Role.agent)
    assert try_sign_in(db, email, PASSWORD, OWN_CLIENT, limits) == "signed in"
    for ip in ("192.0.2.1", "192.0.2.2"):
        for _ in range(2):
            assert try_sign_in(db, email, "a wrong guess", ip, limits) == "wrong"
    assert try_sign_in(db, email, "a wrong guess", "192.0.2.3", limits) == "throttled"
    assert try_sign_in(db, email, PASSWORD, "192.0.2.4", limits) == "throttled"
    assert try_sign_in(db, email, PASSWORD, OWN_CLIENT, limits) == "signed in"
    assert failures(db, email) == 4


def test_one_address_guessing_many_emails_is_stopped(db: Database) -> None:
    limits = LoginLimits(per_address=3)
    outcomes = [
        try_sign_in(db, f"person{n}@cestia.example", "a wrong guess", ATTACKER, limits)
        for n in range(4)
    ]
    assert outcomes == ["wrong", "wrong", "wrong", "throttled"]


def test_successes_do_not_count_and_old_failures_expire(db: Database) -> None:
    email = make_user(db.engine, Role.agent)
    long_ago = utcnow() - timedelta(minutes=16)
    with session_scope(db.engine) as session:
        for _ in range(5):
            session.add(LoginAttempt(email=email, ip=OWN_CLIENT, succeeded=False, at=long_ago))
    for _ in range(6):
        assert try_sign_in(db, email, PASSWORD, OWN_CLIENT) == "signed in"
    for _ in range(4):
        assert try_sign_in(db, email, "a wrong guess", OWN_CLIENT) == "wrong"
    assert try_sign_in(db, email, PASSWORD, OWN_CLIENT) == "signed in"
