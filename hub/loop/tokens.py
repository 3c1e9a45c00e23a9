"""Signed follow-up tokens: ``{case_id}.{expires}.{signature}``, HMAC-SHA256 (stdlib only).

The key is derived from ``HUB_SECRET_KEY`` for this one purpose, so a token can never be
replayed as any other signed value of the hub. ``expires`` is a Unix time in seconds.
"""

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.store.types import utcnow

PURPOSE = b"feedback-hub/followup/v1"


class BadToken(Exception):
    """The token is malformed, forged or tampered with (answered with a 404)."""


class ExpiredToken(Exception):
    """The token is genuine but past its expiry (answered with a 410); says which case."""

    def __init__(self, case_id: int) -> None:
        super().__init__(f"the follow-up link of case {case_id} has expired")
        self.case_id = case_id


@dataclass(frozen=True, slots=True)
class FollowupClaim:
    """What a genuine token says: which case, and until when it may be answered."""

    case_id: int
    expires: int


def derived_key(secret_key: str) -> bytes:
    """The follow-up signing key: HMAC of a fixed purpose under the hub's secret key."""
    return hmac.new(secret_key.encode(), PURPOSE, hashlib.sha256).digest()


def sign(secret_key: str, *, case_id: int, ttl: timedelta, now: datetime | None = None) -> str:
    """A token for ``case_id`` that expires ``ttl`` from ``now``."""
    expires = int(((now or utcnow()) + ttl).timestamp())
    payload = f"{case_id}.{expires}"
    return f"{payload}.{_signature(secret_key, payload)}"


def verify(secret_key: str, token: str, *, now: datetime | None = None) -> FollowupClaim:
    """The claim of a genuine, unexpired token; ``BadToken`` or ``ExpiredToken`` otherwise."""
    parts = token.split(".")
    if len(parts) != 3 or not all(part.isdigit() and part.isascii() for part in parts[:2]):
        raise BadToken("not a follow-up link")
    payload = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(parts[2], _signature(secret_key, payload)):
        raise BadToken("this link was not made by this hub")
    claim = FollowupClaim(case_id=int(parts[0]), expires=int(parts[1]))
    if (now or utcnow()).timestamp() >= claim.expires:
        raise ExpiredToken(claim.case_id)
    return claim


def _signature(secret_key: str, payload: str) -> str:
    digest = hmac.new(derived_key(secret_key), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
