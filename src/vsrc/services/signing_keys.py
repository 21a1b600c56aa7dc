"""Signing keys: RSA 2048 key pairs whose private half is shown once; only the public key is kept.

The key id is derived from the public key (``sk_`` + 32 hex of the SHA-256 of its DER form), so a
private key file alone is enough to sign tokens: the signer computes the same id for the JWT ``kid``.

Each account may also have one internal ``dashboard`` key (``web/preview_tokens.py``) whose private half
is kept so every API process can sign the dashboard's previews with it. The customer's listing, limit and
revocation see only ``api`` keys.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from vsrc.db.models import SigningKey
from vsrc.db.session import transaction
from vsrc.errors import NotFound, ValidationFailed
from vsrc.timeutil import utcnow

KEY_ID_PREFIX = "sk_"
MAX_ACTIVE_KEYS = 100
PURPOSE_API = "api"
PURPOSE_DASHBOARD = "dashboard"


@dataclass(frozen=True)
class NewKey:
    row: SigningKey
    private_pem: str


def key_id_for(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return KEY_ID_PREFIX + hashlib.sha256(der).hexdigest()[:32]


def _generate(account_id: int, purpose: str) -> NewKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    row = SigningKey(
        key_id=key_id_for(private.public_key()),
        account_id=account_id,
        public_key=public_pem.decode("ascii"),
        purpose=purpose,
        private_key=private_pem if purpose == PURPOSE_DASHBOARD else None,
    )
    return NewKey(row=row, private_pem=private_pem)


def create_key(session: Session, *, account_id: int) -> NewKey:
    """A new RSA 2048 key for the account; the PEM private key is returned and never stored."""
    active = session.scalars(
        select(SigningKey.id).where(
            SigningKey.account_id == account_id,
            SigningKey.purpose == PURPOSE_API,
            SigningKey.revoked_at.is_(None),
        )
    ).all()
    if len(active) >= MAX_ACTIVE_KEYS:
        raise ValidationFailed.field("keyId", f"at most {MAX_ACTIVE_KEYS} active signing keys; revoke one")
    new = _generate(account_id, PURPOSE_API)
    session.add(new.row)
    session.flush()
    return new


def _dashboard_key(session: Session, account_id: int) -> SigningKey | None:
    return session.scalar(
        select(SigningKey).where(
            SigningKey.account_id == account_id,
            SigningKey.purpose == PURPOSE_DASHBOARD,
            SigningKey.revoked_at.is_(None),
        )
    )


def dashboard_key(sessions: sessionmaker[Session], *, account_id: int) -> tuple[str, str]:
    """The account's internal dashboard key (key id, PEM private key), made on first use.

    Processes that race to make it both insert; the unique index lets one commit and the other, refused,
    reads the winner's. Each step is its own committed transaction: a player presents tokens at once.
    """
    with transaction(sessions) as session:
        row = _dashboard_key(session, account_id)
    if row is None:
        try:
            with transaction(sessions) as session:
                row = _generate(account_id, PURPOSE_DASHBOARD).row
                session.add(row)
        except IntegrityError:
            with transaction(sessions) as session:
                row = _dashboard_key(session, account_id)
            if row is None:  # the refusal was not the race (the index is the only constraint it can hit)
                raise
    assert row.private_key is not None  # dashboard keys are always stored with their private half
    return row.key_id, row.private_key


def list_keys(session: Session, *, account_id: int) -> list[SigningKey]:
    """The account's active keys, newest first (the internal dashboard key is not the customer's)."""
    query = (
        select(SigningKey)
        .where(
            SigningKey.account_id == account_id,
            SigningKey.purpose == PURPOSE_API,
            SigningKey.revoked_at.is_(None),
        )
        .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
    )
    return list(session.scalars(query))


def revoke_key(session: Session, *, account_id: int, key_id: str) -> None:
    """Revoke an active customer key of the account; tokens it signed stop playing (``NotFound`` otherwise,
    also for the internal dashboard key, which is not the customer's to list or revoke)."""
    row = session.scalar(
        select(SigningKey).where(
            SigningKey.key_id == key_id,
            SigningKey.account_id == account_id,
            SigningKey.purpose == PURPOSE_API,
            SigningKey.revoked_at.is_(None),
        )
    )
    if row is None:
        raise NotFound("Signing key not found")
    row.revoked_at = utcnow()
    session.flush()


def find_key(session: Session, *, key_id: str) -> SigningKey | None:
    """Any account's key by id, revoked ones included (the verifier tells revoked from unknown)."""
    return session.scalar(select(SigningKey).where(SigningKey.key_id == key_id))
