"""Browser sessions: sign in with a password, a cookie with a random token, CSRF tokens.

The cookie holds 256 random bits; the table keeps only their SHA-256 digest, so a database
leak does not hand out sessions. Each session has its own CSRF token, which every form posts
back. Sign-in attempts are counted per email and per address to slow down guessing.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, delete, func, select

from hub.auth.models import LoginAttempt, UserSession
from hub.errors import HubError, Unauthorized
from hub.store.types import utcnow
from hub.users.models import User
from hub.users.service import check_password

SESSION_LIFETIME = timedelta(days=14)
ATTEMPT_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_IP = 20


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


def sign_in(session: Session, *, email: str, password: str, ip: str) -> SignedIn:
    """A new session for valid credentials; 401 otherwise, 429 after too many failures."""
    email = email.strip().lower()[:320]
    _refuse_if_guessing(session, email=email, ip=ip)
    user = check_password(session, email=email, password=password)
    session.add(LoginAttempt(email=email, ip=ip[:64], succeeded=user is not None))
    if user is None:
        session.commit()  # the failure must count even though this request fails
        raise Unauthorized("wrong email or password")
    assert user.id is not None
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=_digest(token), user_id=user.id, csrf_token=csrf,
                            expires_at=utcnow() + SESSION_LIFETIME))  # fmt: skip
    return SignedIn(user, token, csrf)


def _refuse_if_guessing(session: Session, *, email: str, ip: str) -> None:
    since = utcnow() - ATTEMPT_WINDOW
    failures = (
        select(func.count())
        .select_from(LoginAttempt)
        .where(col(LoginAttempt.succeeded).is_(False), LoginAttempt.at >= since)
    )
    by_email = session.exec(failures.where(LoginAttempt.email == email)).one()
    by_ip = session.exec(failures.where(LoginAttempt.ip == ip)).one()
    if by_email >= MAX_FAILURES_PER_EMAIL or by_ip >= MAX_FAILURES_PER_IP:
        minutes = int(ATTEMPT_WINDOW.total_seconds() // 60)
        raise TooManyAttempts(
            f"too many failed sign-ins; try again in {minutes} minutes",
            retry_after=int(ATTEMPT_WINDOW.total_seconds()),
        )


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
