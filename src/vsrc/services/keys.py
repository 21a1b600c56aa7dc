"""Accounts and API keys. Keys are stored as SHA-256 hashes and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vsrc.db.models import Account, ApiKey
from vsrc.db.session import transaction
from vsrc.errors import AuthError, NotFound, PermissionDenied, ValidationFailed
from vsrc.timeutil import utcnow

PERMISSIONS = ("read", "write")
KEY_PREFIX = "vsrc_"
_PREFIX_LEN = len(KEY_PREFIX) + 12
DEFAULT_ACCOUNT = "admin@localhost"
REVOKED = "API key has been revoked"


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


def lookup(session: Session, *, plaintext: str) -> Principal:
    """Resolve a bearer key to a principal; raises ``AuthError`` for unknown or revoked keys.

    Reads only: when a key was last used is recorded by ``vsrc.services.key_usage``, off the
    request path."""
    if not plaintext.startswith(KEY_PREFIX) or len(plaintext) < _PREFIX_LEN:
        raise AuthError("Invalid API key")
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == plaintext[:_PREFIX_LEN]))
    if key is None or not hmac.compare_digest(key.key_hash, _hash(plaintext)):
        raise AuthError("Invalid API key")
    if key.revoked_at is not None:
        raise AuthError(REVOKED)
    return Principal(account_id=key.account_id, key_id=key.id, permission=key.permission)


class KeyCache:
    """Checked API keys, trusted for ``ttl`` seconds per process (docs/architecture.md#api-keys).

    A request with a key seen in the last ``ttl`` seconds costs a dictionary lookup instead of a
    database query. The price: a key revoked elsewhere (the CLI, another API process of a fleet)
    keeps working for at most ``ttl`` seconds in this process; the process that revoked it calls
    ``forget`` and refuses it at once. Entries are keyed by the key's SHA-256 (never the plaintext);
    unknown keys are not remembered, so made-up keys cannot crowd out real ones.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        ttl: float,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._size = size
        self._clock = clock
        # digest -> (checked at, the principal, or None for a revoked key)
        self._entries: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, plaintext: str) -> Principal | None:
        """The principal of a key checked less than ``ttl`` seconds ago (no I/O: safe on the event
        loop); ``None`` when it must be looked up. ``AuthError`` for a key known to be revoked."""
        digest = _hash(plaintext)
        with self._lock:
            entry = self._entries.get(digest)
        if entry is None or self._clock() - entry[0] >= self._ttl:
            return None
        if entry[1] is None:
            raise AuthError(REVOKED)
        return entry[1]

    def check(self, plaintext: str) -> Principal:
        """Look the key up in the database (blocking: call it from a worker thread) and remember
        the answer; raises ``AuthError`` like ``lookup``."""
        checked_at = self._clock()
        principal: Principal | None = None
        try:
            with transaction(self._sessions) as session:
                principal = lookup(session, plaintext=plaintext)
        except AuthError as exc:
            if exc.message != REVOKED:
                raise
            self._remember(_hash(plaintext), checked_at, None)
            raise
        self._remember(_hash(plaintext), checked_at, principal)
        return principal

    def _remember(self, digest: str, checked_at: float, principal: Principal | None) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            self._entries[digest] = (checked_at, principal)
            self._entries.move_to_end(digest)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def forget(self, key_id: int) -> None:
        """Drop the entry of key ``key_id`` (after revoking it here, so this process refuses it at once)."""
        with self._lock:
            stale = [d for d, (_at, p) in self._entries.items() if p is not None and p.key_id == key_id]
            for digest in stale:
                del self._entries[digest]
