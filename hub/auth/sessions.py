"""Browser sessions: sign in with a password, a cookie with a random token, CSRF tokens.

The cookie holds 256 random bits; the table keeps only their SHA-256 digest, so a database
leak does not hand out sessions. Each session has its own CSRF token, which every form posts
back. Failed sign-ins are limited per email and client address (so guessing from elsewhere
does not lock a person out of their own client), per email overall, and per address.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, ScalarSelect, and_, insert, literal, or_, update
from sqlmodel import Session, col, delete, func, select

from hub.auth.models import LoginAttempt, UserSession
from hub.config import Settings
from hub.errors import HubError, Unauthorized
from hub.store.types import utcnow
from hub.users.models import User
from hub.users.service import check_password

SESSION_LIFETIME = timedelta(days=14)
# A client that signed in as an email within this long is not held back by other clients'
# failures for that email (the per-email ceiling): guessing elsewhere cannot lock it out.
KNOWN_CLIENT_FOR = timedelta(days=30)


@dataclass(frozen=True)
class LoginLimits:
    """Failed sign-ins allowed within ``window`` (HUB_LOGIN_* settings)."""

    window: timedelta = timedelta(minutes=15)
    per_email_and_address: int = 5
    per_email: int = 50  # from every address but the email's known clients
    per_address: int = 20  # for every email together

    @classmethod
    def from_settings(cls, settings: Settings) -> "LoginLimits":
        return cls(
            window=timedelta(minutes=settings.login_window_minutes),
            per_email_and_address=settings.login_max_failures,
            per_email=settings.login_max_failures_per_email,
            per_address=settings.login_max_failures_per_address,
        )


class TooManyAttempts(HubError):
    code = "too_many_attempts"
    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


@dataclass(frozen=True)
class SignedIn:
    """A session: the user, the cookie's token and the session's CSRF token."""

    user: User
    token: str
    csrf_token: str


def sign_in(
    session: Session, *, email: str, password: str, ip: str, limits: LoginLimits = LoginLimits()
) -> SignedIn:
    """A new session for valid credentials; 401 otherwise, 429 after too many failures.

    Each try is first stored as a failure, in one conditional write that only succeeds under
    the limits, and committed before the password is checked: concurrent tries cannot
    exceed the limits. A right password turns the try into a success.
    """
    email, ip = email.strip().lower()[:320], ip[:64]
    attempt_id = _reserve_try(session, email=email, ip=ip, limits=limits)
    if attempt_id is None:
        seconds = int(limits.window.total_seconds())
        raise TooManyAttempts(
            f"too many failed sign-ins; try again in {seconds // 60} minutes", retry_after=seconds
        )
    user = check_password(session, email=email, password=password)
    if user is None:
        raise Unauthorized("wrong email or password")
    assert user.id is not None
    session.exec(
        update(LoginAttempt).where(col(LoginAttempt.id) == attempt_id).values(succeeded=True)
    )
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=_digest(token), user_id=user.id, csrf_token=csrf,
                            expires_at=utcnow() + SESSION_LIFETIME))  # fmt: skip
    return SignedIn(user, token, csrf)


def _reserve_try(session: Session, *, email: str, ip: str, limits: LoginLimits) -> int | None:
    """Store a failed try if the limits allow one more (its id), else None; commits."""
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        # Serialise the tries of one email and of one address: count and insert as one step.
        # (SQLite has one writer at a time, and the statement below takes its lock first.)
        for key in (f"login:email:{email}", f"login:address:{ip}"):
            session.exec(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))
    attempts = LoginAttempt.__table__.c  # type: ignore[attr-defined]  # SQLModel's table
    recent = (~attempts.succeeded) & (attempts.at >= now - limits.window)

    def failures(*conditions: ColumnElement[bool]) -> ScalarSelect[int]:
        return select(func.count()).where(recent, *conditions).scalar_subquery()

    known_client = (
        select(attempts.id)
        .where(attempts.email == email, attempts.ip == ip)
        .where(attempts.succeeded, attempts.at >= now - KNOWN_CLIENT_FOR)
        .exists()
    )
    allowed = and_(
        failures(attempts.email == email, attempts.ip == ip) < limits.per_email_and_address,
        failures(attempts.ip == ip) < limits.per_address,
        or_(failures(attempts.email == email) < limits.per_email, known_client),
    )
    row = select(
        literal(email, attempts.email.type),
        literal(ip, attempts.ip.type),
        literal(False, attempts.succeeded.type),
        literal(now, attempts.at.type),
    ).where(allowed)
    inserted = session.execute(
        insert(LoginAttempt)
        .from_select(["email", "ip", "succeeded", "at"], row)
        .returning(attempts.id)
    ).scalar_one_or_none()
    session.commit()  # the try counts even though this request may fail
    return inserted


def session_user(session: Session, *, token: str | None) -> tuple[User, UserSession] | None:
    """The active user and session behind a cookie token, if it is valid and unexpired."""
    if not token:
        return None
    found = session.exec(
        select(User, UserSession)
        .join(UserSession, col(UserSession.user_id) == col(User.id))
        .where(UserSession.token_hash == _digest(token), UserSession.expires_at > utcnow())
    ).first()
    if found is None or not found[0].active:
        return None
    return found[0], found[1]


def sign_out(session: Session, *, token: str | None) -> None:
    """End the session behind ``token`` (nothing if there is none)."""
    if token:
        session.exec(delete(UserSession).where(col(UserSession.token_hash) == _digest(token)))


def sign_out_everywhere(session: Session, *, user_id: int) -> None:
    """End every session of a user (after a password change, or when deactivated)."""
    session.exec(delete(UserSession).where(col(UserSession.user_id) == user_id))


def csrf_matches(expected: str, given: str | None) -> bool:
    """Whether a form's CSRF token is the session's (constant time)."""
    return bool(given) and hmac.compare_digest(expected, given or "")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
