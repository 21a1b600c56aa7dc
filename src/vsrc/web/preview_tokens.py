"""Short-lived playback tokens for the dashboard's own players and posters of signed items.

VSRC keeps only the public half of an account's signing keys, so the dashboard cannot sign with them.
Instead each API process makes, the first time it previews a signed item of an account, one signing key
of that account through the same service as ``POST /api/v1/signing-keys``, keeps the private half in
memory only and signs 10-minute tokens with it. That key is listed on the Signing keys page like any
other; revoking it there makes this process sign with a new one (another API process keeps signing with
the revoked key, refused, until it restarts).
"""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.orm import Session, sessionmaker

from vsrc.db.session import transaction
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
                # Its own transaction: the key must be committed before a player presents a token.
                with transaction(self._sessions) as session:
                    new = signing_keys.create_key(session, account_id=account_id)
                    key_id = new.row.key_id
                private, _ = tokens.load_private_key(new.private_pem)
                known = self._keys[account_id] = (key_id, private)
            return known

    def forget(self, key_id: str) -> None:
        """The key ``key_id`` was revoked: the next preview of its account makes a new one."""
        with self._lock:
            for account_id, (known_id, _) in list(self._keys.items()):
                if known_id == key_id:
                    del self._keys[account_id]

    def token(self, *, account_id: int, media_id: str) -> str:
        """A token for ``media_id`` (video, poster and storyboard) valid ``TOKEN_SECONDS``."""
        key_id, private = self._key(account_id)
        return tokens.sign_token(
            private, media_id=media_id, expires_in=TOKEN_SECONDS, audience=AUDIENCES, key_id=key_id
        )
