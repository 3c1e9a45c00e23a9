"""Creating, listing, revoking and checking API keys."""

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import Session, col, select

from hub.auth.models import ApiKey, ApiKeyCreated, ApiKeyPublic, Scope
from hub.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from hub.store.types import utcnow

KEY_PREFIX = "fhk"
WIDGET_KEY_PREFIX = "pk_"
# Scopes a bearer key may have; `submit` belongs to public widget keys only.
BEARER_SCOPES = tuple(scope.value for scope in Scope if scope is not Scope.submit)
# Writing last_used_at on every request would turn each widget post into two writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def create_key(session: Session, *, name: str, scopes: Sequence[str]) -> ApiKeyCreated:
    """A new key; the returned secret is shown once and stored only as a digest."""
    name = name.strip()
    if not name:
        raise InvalidInput("a key needs a name")
    if Scope.submit.value in scopes:
        raise InvalidInput("widget keys (`submit`) are made with `feedback-hub surveys create`")
    unknown = sorted(set(scopes) - set(BEARER_SCOPES))
    if unknown or not scopes:
        valid = ", ".join(BEARER_SCOPES)
        raise InvalidInput(f"scopes must be among: {valid} (got {', '.join(unknown) or 'none'})")
    prefix = secrets.token_hex(5)
    secret = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(name=name, prefix=prefix, key_hash=_digest(secret), scopes=sorted(set(scopes)))
    session.add(key)
    session.flush()
    assert key.id is not None
    return ApiKeyCreated(id=key.id, name=key.name, scopes=key.scopes, key=secret)


def create_widget_key(
    session: Session,
    *,
    name: str,
    allowed_origins: Sequence[str],
    rate_limit_per_minute: int | None = None,
) -> ApiKey:
    """A public widget key (``pk_…``, scope ``submit``); it sits in web pages, so it is no secret.

    The whole public key is stored as the key's ``prefix`` (so it can be shown again in the
    embed snippet), and its digest as ``key_hash`` like every key.
    """
    public_key = WIDGET_KEY_PREFIX + secrets.token_hex(12)
    key = ApiKey(
        name=name.strip()[:100] or "widget",
        prefix=public_key,
        key_hash=_digest(public_key),
        scopes=[Scope.submit.value],
        allowed_origins=list(allowed_origins),
        rate_limit_per_minute=rate_limit_per_minute,
    )
    session.add(key)
    session.flush()
    return key


def widget_key(session: Session, *, public_key: str) -> ApiKey | None:
    """The widget key ``public_key`` names (revoked ones too), or None."""
    if not public_key.startswith(WIDGET_KEY_PREFIX):
        return None
    key = session.exec(select(ApiKey).where(ApiKey.prefix == public_key)).first()
    if key is None or Scope.submit.value not in key.scopes:
        return None
    return key


def list_keys(session: Session) -> list[ApiKeyPublic]:
    """Every key, newest first, without secrets."""
    keys = session.exec(select(ApiKey).order_by(col(ApiKey.id).desc())).all()
    return [ApiKeyPublic.model_validate(key, from_attributes=True) for key in keys]


def revoke_key(session: Session, *, key_id: int) -> ApiKeyPublic:
    """Revoke a key at once; requests with it fail from now on."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
    return ApiKeyPublic.model_validate(key, from_attributes=True)


def authenticate(session: Session, *, secret: str | None, scope: Scope) -> ApiKey:
    """The key behind a presented secret, if valid and allowed ``scope``; else 401 or 403."""
    if not secret:
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise Unauthorized("malformed API key")
    key = session.exec(select(ApiKey).where(ApiKey.prefix == parts[1])).first()
    if key is None or not hmac.compare_digest(key.key_hash, _digest(secret)):
        raise Unauthorized("unknown API key")
    if key.revoked_at is not None:
        raise Unauthorized("this API key was revoked")
    if scope.value not in key.scopes and Scope.admin.value not in key.scopes:
        raise Forbidden(f"this API key lacks the `{scope.value}` scope")
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        key.last_used_at = now
        session.add(key)
    return key


def _digest(secret: str) -> str:
    # Keys are 256-bit random tokens, so a fast digest is safe here (unlike passwords).
    return hashlib.sha256(secret.encode()).hexdigest()
