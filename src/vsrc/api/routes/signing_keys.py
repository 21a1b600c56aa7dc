"""``/api/v1/signing-keys``: the RSA keys that sign playback tokens for signed media."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from vsrc.api.deps import Reader, SessionDep, StateDep, Writer
from vsrc.api.schemas.common import FORBIDDEN, WRITE_ERRORS
from vsrc.api.schemas.signing_keys import (
    NewSigningKey,
    RevokedKey,
    SigningKeyCreateResponse,
    SigningKeyDeleteResponse,
    SigningKeyListResponse,
    key_out,
)
from vsrc.db.session import transaction
from vsrc.services import signing_keys
from vsrc.timeutil import iso_ms

router = APIRouter(prefix="/api/v1/signing-keys", tags=["signing keys"], responses=WRITE_ERRORS)

KeyId = Annotated[str, Path(pattern=r"^sk_[a-f0-9]{1,60}$", examples=["sk_3f1c2a9be0d54c6f8a7b1e2d3c4b5a69"])]


@router.post("", status_code=201, response_model=SigningKeyCreateResponse, responses=FORBIDDEN)
def create_key(principal: Writer, session: SessionDep) -> SigningKeyCreateResponse:
    """A new RSA 2048 key pair. The private key (PEM) is in this answer only; VSRC keeps the public key."""
    new = signing_keys.create_key(session, account_id=principal.account_id)
    return SigningKeyCreateResponse(
        data=NewSigningKey(
            keyId=new.row.key_id, privateKey=new.private_pem, createdAt=iso_ms(new.row.created_at)
        )
    )


@router.get("", response_model=SigningKeyListResponse)
def list_keys(principal: Reader, session: SessionDep) -> SigningKeyListResponse:
    """The account's active signing keys (public information only)."""
    return SigningKeyListResponse(
        data=[key_out(row) for row in signing_keys.list_keys(session, account_id=principal.account_id)]
    )


@router.delete("/{keyId}", response_model=SigningKeyDeleteResponse, responses=FORBIDDEN)
def revoke_key(keyId: KeyId, principal: Writer, state: StateDep) -> SigningKeyDeleteResponse:
    """Revoke a key: tokens it signed are refused at once by this API process, and within
    ``VSRC_SIGNING_KEY_CACHE_SECONDS`` (10 s) by every other one."""
    with transaction(state.sessions) as session:
        signing_keys.revoke_key(session, account_id=principal.account_id, key_id=keyId)
    state.guard.verifier.forget(keyId)
    return SigningKeyDeleteResponse(data=RevokedKey(keyId=keyId))
