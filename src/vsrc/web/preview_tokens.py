"""Short-lived playback tokens for the dashboard's own players and posters of signed items.

VSRC keeps only the public half of a customer's signing keys, so the dashboard cannot sign with them.
Instead each account has one internal signing key (``purpose`` "dashboard", ``signing_keys.dashboard_key``)
made on the first preview by whichever API process gets there first and shared by every process and
restart after it. Trade-off: its private half is stored in the database (a stolen database can sign
tokens for that account's signed items until the key is revoked there); it never leaves the server and
signs only these 10-minute dashboard tokens. It is not the customer's: `GET /api/v1/signing-keys` and
the Signing keys page do not list it, `MAX_ACTIVE_KEYS` does not count it, and the delete endpoint cannot
reach it. Each process caches the key in memory; revoking it in the database (rotation) takes effect in
a process at its restart, when the next preview makes a new one.
"""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.orm import Session, sessionmaker

from vsrc.services import signing_keys, tokens

TOKEN_SECONDS = 600
AUDIENCES = (tokens.AUD_VIDEO, tokens.AUD_THUMBNAIL, tokens.AUD_STORYBOARD)


class PreviewSigner:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._keys: dict[int, tuple[str, rsa.RSAPrivateKey]] = {}
        self._lock = threading.Lock()

    def _key(self, account_id: int) -> tuple[str, rsa.RSAPrivateKey]:
        with self._lock:
            known = self._keys.get(account_id)
            if known is None:
                key_id, private_pem = signing_keys.dashboard_key(self._sessions, account_id=account_id)
                private, _ = tokens.load_private_key(private_pem)
                known = self._keys[account_id] = (key_id, private)
            return known

    def token(self, *, account_id: int, media_id: str) -> str:
        """A token for ``media_id`` (video, poster and storyboard) valid ``TOKEN_SECONDS``."""
        key_id, private = self._key(account_id)
        return tokens.sign_token(
            private, media_id=media_id, expires_in=TOKEN_SECONDS, audience=AUDIENCES, key_id=key_id
        )
