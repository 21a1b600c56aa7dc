"""Accounts and API keys. Keys are stored as SHA-256 hashes and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from vsrc.db.models import Account, ApiKey
from vsrc.errors import AuthError, NotFound, PermissionDenied, ValidationFailed
from vsrc.timeutil import utcnow

PERMISSIONS = ("read", "write")
KEY_PREFIX = "vsrc_"
_PREFIX_LEN = len(KEY_PREFIX) + 12
DEFAULT_ACCOUNT = "admin@localhost"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the account and the permission of the key used."""

    account_id: int
    key_id: int
    permission: str

    @property
    def can_write(self) -> bool:
        return self.permission == "write"

    def require(self, permission: str) -> None:
        if permission == "write" and self.permission != "write":
            raise PermissionDenied("This API key does not have write permission")


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    plaintext: str


def _hash(plaintext: str) -> str:
    # Keys carry 192 bits of randomness, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(plaintext.encode()).hexdigest()


def get_or_create_account(session: Session, *, email: str) -> Account:
    email = email.strip().lower()
    if not email or "@" not in email:
        raise ValidationFailed.field("account", "must be an email address")
    account = session.scalar(select(Account).where(Account.email == email))
    if account is None:
        account = Account(email=email)
        session.add(account)
        session.flush()
    return account


def create_key(session: Session, *, name: str, permission: str, account_email: str) -> CreatedKey:
    """Create an API key; the plaintext is returned once and never stored."""
    _check_key_fields(name, permission)
    account = get_or_create_account(session, email=account_email)
    return create_account_key(session, account_id=account.id, name=name, permission=permission)


def _check_key_fields(name: str, permission: str) -> None:
    if not 1 <= len(name.strip()) <= 255 or "\x00" in name:
        raise ValidationFailed.field("name", "must be 1 to 255 characters")
    if permission not in PERMISSIONS:
        raise ValidationFailed.field("permission", "must be 'read' or 'write'")


def create_account_key(session: Session, *, account_id: int, name: str, permission: str) -> CreatedKey:
    """Create an API key of an existing account; the plaintext is returned once and never stored."""
    _check_key_fields(name, permission)
    name = name.strip()
    plaintext = KEY_PREFIX + secrets.token_hex(24)
    key = ApiKey(
        account_id=account_id,
        name=name,
        prefix=plaintext[:_PREFIX_LEN],
        key_hash=_hash(plaintext),
        permission=permission,
    )
    session.add(key)
    session.flush()
    return CreatedKey(key=key, plaintext=plaintext)


def list_keys(session: Session) -> list[tuple[ApiKey, str]]:
    rows = session.execute(select(ApiKey, Account.email).join(Account).order_by(ApiKey.id)).all()
    return [(key, email) for key, email in rows]


def list_account_keys(session: Session, *, account_id: int) -> list[ApiKey]:
    """The account's keys, revoked ones included, newest first."""
    return list(
        session.scalars(select(ApiKey).where(ApiKey.account_id == account_id).order_by(ApiKey.id.desc()))
    )


def revoke_account_key(session: Session, *, account_id: int, key_id: int) -> ApiKey:
    """Revoke one of the account's keys (idempotent); another account's key is ``NotFound``."""
    key = session.get(ApiKey, key_id) if 1 <= key_id <= 2**31 - 1 else None
    if key is None or key.account_id != account_id:
        raise NotFound("No such API key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def revoke_key(session: Session, *, prefix: str) -> ApiKey:
    """Revoke the one key whose prefix starts with ``prefix`` (at least 8 characters)."""
    if len(prefix) < 8:
        raise ValidationFailed.field("prefix", "give at least 8 characters of the key")
    matches = list(session.scalars(select(ApiKey).where(ApiKey.prefix.startswith(prefix[:_PREFIX_LEN]))))
    if len(prefix) > _PREFIX_LEN:
        matches = [k for k in matches if hmac.compare_digest(k.key_hash, _hash(prefix))]
    if not matches:
        raise NotFound("No API key matches that prefix")
    if len(matches) > 1:
        raise ValidationFailed.field("prefix", "matches several keys; give more characters")
    key = matches[0]
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def authenticate(session: Session, *, plaintext: str, touch_after: int = 60) -> Principal:
    """Resolve a bearer key to a principal; raises ``AuthError`` for unknown or revoked keys."""
    if not plaintext.startswith(KEY_PREFIX) or len(plaintext) < _PREFIX_LEN:
        raise AuthError("Invalid API key")
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == plaintext[:_PREFIX_LEN]))
    if key is None or not hmac.compare_digest(key.key_hash, _hash(plaintext)):
        raise AuthError("Invalid API key")
    if key.revoked_at is not None:
        raise AuthError("API key has been revoked")
    now = utcnow()
    # Writing on every request would serialise reads on SQLite; a minute's precision is plenty.
    if key.last_used_at is None or now - key.last_used_at >= timedelta(seconds=touch_after):
        key.last_used_at = now
    return Principal(account_id=key.account_id, key_id=key.id, permission=key.permission)
