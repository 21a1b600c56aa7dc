"""Dashboard users (email + argon2 password, one account each) and their sign-in sessions.

A session cookie carries 256 random bits; only their SHA-256 is stored, so a leaked database does not
leak live sessions, and deleting the row revokes the session at once (server-side revocation).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session, joinedload

from vsrc.db.models import Account, User, WebSession
from vsrc.errors import AuthError, FieldError, ValidationFailed
from vsrc.services.keys import get_or_create_account
from vsrc.timeutil import utcnow

SESSION_LIFETIME = timedelta(days=14)
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # argon2 hashes anything, but a megabyte "password" is only a way to burn CPU
_hasher = PasswordHasher()
# Verified against when the email is unknown, so that a wrong email costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class SignedIn:
    """A new session: the cookie value (shown once) and the session's CSRF token."""

    token: str
    csrf_token: str
    user: User


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _validate(email: str, password: str) -> None:
    errors = []
    if not 3 <= len(email) <= 320 or "@" not in email or any(c.isspace() for c in email) or "\x00" in email:
        errors.append(FieldError("email", "must be an email address"))
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD or "\x00" in password:
        errors.append(FieldError("password", f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"))
    if errors:
        raise ValidationFailed("Validation failed", errors)


def any_user(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(User.id.isnot(None)))))


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    account_email: str | None = None,
    new_account: bool = False,
) -> User:
    """A user of the account ``account_email`` (created if missing; default: the user's own email).

    ``new_account`` (self sign-up): the account must not exist yet. Emails are not verified, so
    whoever signs up first as an existing account's email (the CLI's "admin@localhost" too) would
    otherwise get its media and keys; only the operator joins users to accounts.
    """
    email = normalize_email(email)
    _validate(email, password)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValidationFailed.field("email", "a user with this email already exists")
    if new_account and session.scalar(select(Account.id).where(Account.email == email)) is not None:
        raise ValidationFailed.field(
            "email",
            "an account with this email already exists: its operator adds users with "
            "'vsrc users create --email EMAIL --account ACCOUNT'",
        )
    account = get_or_create_account(session, email=account_email or email)
    user = User(account_id=account.id, email=email, password_hash=_hasher.hash(password))
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, *, email: str, password: str) -> User:
    """The user for these credentials; ``AuthError`` (one message for both cases) otherwise."""
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError) as exc:
        raise AuthError("Wrong email or password") from exc
    if user is None:
        raise AuthError("Wrong email or password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    return user


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, *, user: User) -> SignedIn:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        WebSession(
            user_id=user.id,
            token_hash=_hash_token(token),
            csrf_token=csrf,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    # Expired sessions of this user are dropped here instead of by a periodic job.
    session.execute(delete(WebSession).where(WebSession.user_id == user.id, WebSession.expires_at <= now))
    session.flush()
    return SignedIn(token=token, csrf_token=csrf, user=user)


def resolve_session(session: Session, *, token: str) -> WebSession | None:
    """The live session of this cookie value (with its user), or None."""
    if not token or len(token) > 128:
        return None
    row = session.scalar(
        select(WebSession)
        .where(WebSession.token_hash == _hash_token(token))
        .options(joinedload(WebSession.user))
    )
    if row is None or row.expires_at <= utcnow():
        return None
    return row


def end_session(session: Session, *, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == _hash_token(token)))


def end_all_sessions(session: Session, *, user_id: int) -> int:
    """Sign a user out everywhere; returns how many sessions ended."""
    result = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)
