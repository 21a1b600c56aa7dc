"""Playback tokens: RS256 JWTs signed with an account's signing key, checked on every signed request.

Claims (Mux's convention): header ``kid`` = keyId; ``sub`` = mediaId; ``aud`` = ``v`` (video: resolve,
playlists, segments, embed), ``t`` (poster/thumbnails) or ``s`` (storyboard), or a list of them;
``exp`` required; ``nbf`` optional. Public keys are cached per process for
``VSRC_SIGNING_KEY_CACHE_SECONDS`` so a check costs one RSA verification, not a database query; a revoked
key therefore stops working at once in the process that revoked it and within that many seconds in
every other one. See docs/architecture.md#integrations.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.orm import Session, sessionmaker

from vsrc.db.session import transaction
from vsrc.errors import NotFound, TokenRefused, ValidationFailed
from vsrc.services import playback, signing_keys
from vsrc.services.playback_policy import is_signed
from vsrc.storage import Storage

AUD_VIDEO = "v"
AUD_THUMBNAIL = "t"
AUD_STORYBOARD = "s"
AUDIENCES = (AUD_VIDEO, AUD_THUMBNAIL, AUD_STORYBOARD)
LEEWAY_SECONDS = 5  # clock skew between the integrator's signer and this server
MAX_TOKEN_CHARS = 4096
_CACHE_SIZE = 4096


def load_private_key(text: str) -> tuple[rsa.RSAPrivateKey, str]:
    """An RSA private key and its key id from a PEM file, or from the JSON that created the key
    (``{"keyId": …, "privateKey": …}``, bare or under ``data``). ``ValueError`` when neither."""
    key_id: str | None = None
    stripped = text.strip()
    if stripped.startswith("{"):
        doc = json.loads(stripped)
        doc = doc.get("data", doc) if isinstance(doc, dict) else doc
        if not isinstance(doc, dict) or not isinstance(doc.get("privateKey"), str):
            raise ValueError("the JSON has no privateKey")
        key_id = doc.get("keyId") if isinstance(doc.get("keyId"), str) else None
        stripped = doc["privateKey"]
    key = serialization.load_pem_private_key(stripped.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key, key_id or signing_keys.key_id_for(key.public_key())


def sign_token(
    private_key: rsa.RSAPrivateKey,
    *,
    media_id: str,
    expires_in: float,
    audience: str | Sequence[str] = AUD_VIDEO,
    key_id: str | None = None,
    not_before: int | None = None,
    now: float | None = None,
) -> str:
    """A playback token for ``media_id`` valid ``expires_in`` seconds from ``now`` (default: now)."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": media_id,
        "aud": audience if isinstance(audience, str) else list(audience),
        "exp": issued + int(expires_in),
    }
    if not_before is not None:
        claims["nbf"] = not_before
    kid = key_id or signing_keys.key_id_for(private_key.public_key())
    return jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": kid})


def parse_audience(value: str) -> list[str]:
    """``"v"`` or ``"v,t,s"`` → the list of audiences; ``ValidationFailed`` on anything else."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts or any(p not in AUDIENCES for p in parts):
        raise ValidationFailed.field("aud", "aud must be v, t, s or a comma list of them")
    return parts


@dataclass(frozen=True)
class _Key:
    account_id: int
    public_key: Any
    revoked: bool


class _KeyNotCached(Exception):
    """A check from memory met a signing key that must be read from the database first."""


class TokenVerifier:
    """Checks tokens against signing keys cached for ``ttl`` seconds (unknown key ids too).

    A token that passed PyJWT's full check once is remembered (with its ``kid`` and ``exp``) for the
    same media, account and audience: a viewer's next playlist and segment requests then cost a
    dictionary lookup, the expiry comparison and the (cached) revocation check, not another RSA
    verification. Everything else a token says is fixed by its signed bytes.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._clock = clock
        self._wall_clock = wall_clock
        self._cache: OrderedDict[str, tuple[float, _Key | None]] = OrderedDict()
        self._verified: OrderedDict[tuple[str, str, int, str], tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def forget(self, key_id: str) -> None:
        """Drop a cached key (after revoking it here, so this process refuses it at once)."""
        with self._lock:
            self._cache.pop(key_id, None)

    def _key(self, key_id: str) -> _Key | None:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key_id)
            if hit is not None and now - hit[0] < self._ttl:
                return hit[1]
        with transaction(self._sessions) as session:
            row = signing_keys.find_key(session, key_id=key_id)
            key = (
                None
                if row is None
                else _Key(
                    account_id=row.account_id,
                    public_key=serialization.load_pem_public_key(row.public_key.encode()),
                    revoked=row.revoked_at is not None,
                )
            )
        with self._lock:
            self._cache[key_id] = (now, key)
            self._cache.move_to_end(key_id)
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return key

    def verify(self, token: str | None, *, media_id: str, account_id: int, audience: str) -> None:
        """Return when ``token`` lets ``account_id``'s ``media_id`` play for ``audience``; else
        ``TokenRefused`` saying why. May query the database (a signing key not cached)."""
        self._verify(token, media_id=media_id, account_id=account_id, audience=audience, key_of=self._key)

    def verify_cached(self, token: str | None, *, media_id: str, account_id: int, audience: str) -> bool:
        """``verify`` from memory only, for the event loop: True when the token passed, False when the
        answer needs the database (its signing key is not cached, or was cached ``ttl`` ago or more):
        then call ``verify`` in a worker thread. Refusals raise ``TokenRefused`` as ``verify`` does, so
        expiry, revocation (within ``ttl``), audience and ``sub`` are checked exactly as there."""
        try:
            self._verify(
                token, media_id=media_id, account_id=account_id, audience=audience, key_of=self._fresh_key
            )
        except _KeyNotCached:
            return False
        return True

    def _verify(
        self,
        token: str | None,
        *,
        media_id: str,
        account_id: int,
        audience: str,
        key_of: Callable[[str], _Key | None],
    ) -> None:
        if not token:
            raise TokenRefused("a playback token is required for this media (?token=…)")
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenRefused("malformed token")
        seen = (token, media_id, account_id, audience)
        with self._lock:
            known = self._verified.get(seen)
            if known is not None:
                self._verified.move_to_end(seen)  # least recently used goes first, not oldest
        if known is not None:
            kid, exp = known
            self._check_key(key_of(kid), account_id)
            if self._wall_clock() >= exp + LEEWAY_SECONDS:
                raise TokenRefused("the token has expired")
            return
        kid, exp = self._verify_fully(
            token, media_id=media_id, account_id=account_id, audience=audience, key_of=key_of
        )
        with self._lock:
            self._verified[seen] = (kid, exp)
            while len(self._verified) > _CACHE_SIZE:
                self._verified.popitem(last=False)

    def _fresh_key(self, key_id: str) -> _Key | None:
        """The cached key (None: cached as unknown); ``_KeyNotCached`` when it must be looked up."""
        with self._lock:
            hit = self._cache.get(key_id)
        if hit is None or self._clock() - hit[0] >= self._ttl:
            raise _KeyNotCached(key_id)
        return hit[1]

    @staticmethod
    def _check_key(key: _Key | None, account_id: int) -> _Key:
        # Another account's key is as unknown as a made-up one: it must not play this account's media.
        if key is None or key.account_id != account_id:
            raise TokenRefused("unknown signing key (kid)")
        if key.revoked:
            raise TokenRefused("the signing key was revoked")
        return key

    def _verify_fully(
        self,
        token: str,
        *,
        media_id: str,
        account_id: int,
        audience: str,
        key_of: Callable[[str], _Key | None],
    ) -> tuple[str, float]:
        """PyJWT's complete check; returns the token's ``kid`` and ``exp``."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise TokenRefused("malformed token") from exc
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRefused("the token header has no kid (signing key id)")
        if header.get("alg") != "RS256":
            raise TokenRefused("the token must be signed with RS256")
        kid = kid[:128]
        key = self._check_key(key_of(kid), account_id)
        try:
            claims = jwt.decode(
                token,
                key.public_key,
                algorithms=["RS256"],
                audience=audience,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenRefused("the token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise TokenRefused("the token is not valid yet (nbf)") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenRefused(f"the token's aud does not allow '{audience}'") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRefused(f"the token has no '{exc.claim}' claim") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenRefused("the token signature does not verify") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenRefused(f"invalid token: {exc}") from exc
        if claims.get("sub") != media_id:
            raise TokenRefused("the token is for another media (sub)")
        return kid, float(claims["exp"])


class PlaybackGuard:
    """Decides, per playback request, whether a token is needed and whether the one given is good."""

    def __init__(self, sessions: sessionmaker[Session], storage: Storage, verifier: TokenVerifier) -> None:
        self._sessions = sessions
        self._storage = storage
        self.verifier = verifier
        # mediaId → owning account: it never changes, so entries need no expiry, only a bound.
        self._owners: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def check_item(self, item: playback.PlaybackItem, *, audience: str, token: str | None) -> bool:
        """For resolve and embed, which already read the item's row: True when it is signed (and the
        token good), False when it is public."""
        if not item.signed:
            return False
        self.verifier.verify(token, media_id=item.public_id, account_id=item.account_id, audience=audience)
        return True

    def check_delivery(self, public_id: str, *, audience: str, token: str | None) -> bool:
        """For files: a public item costs one storage existence check and no database query."""
        if not is_signed(self._storage, public_id):
            return False
        self.verify_signed(public_id, audience=audience, token=token)
        return True

    def verify_signed(self, public_id: str, *, audience: str, token: str | None) -> None:
        """The token check of a file of an item already known to be signed (``TokenRefused``)."""
        account_id = self._owner(public_id)
        self.verifier.verify(token, media_id=public_id, account_id=account_id, audience=audience)

    def check_item_cached(self, item: playback.PlaybackItem, *, audience: str, token: str | None) -> bool:
        """``check_item`` of a signed item from memory only (event loop): True when the token passed,
        False when it needs ``check_item`` in a worker thread; refusals raise ``TokenRefused``."""
        return self.verifier.verify_cached(
            token, media_id=item.public_id, account_id=item.account_id, audience=audience
        )

    def verify_signed_cached(self, public_id: str, *, audience: str, token: str | None) -> bool:
        """``verify_signed`` from memory only (event loop): True when the token passed, False when the
        item's account or signing key must be read first (then call ``verify_signed`` in a thread)."""
        with self._lock:
            account_id = self._owners.get(public_id)
        if account_id is None:
            return False
        return self.verifier.verify_cached(
            token, media_id=public_id, account_id=account_id, audience=audience
        )

    def _owner(self, public_id: str) -> int:
        with self._lock:
            known = self._owners.get(public_id)
        if known is not None:
            return known
        with transaction(self._sessions) as session:
            try:
                account_id = playback.find_item(session, public_id=public_id).account_id
            except NotFound as exc:
                # Marker left by a delete still purging its files: nothing to play.
                raise NotFound("Not found") from exc
        with self._lock:
            self._owners[public_id] = account_id
            while len(self._owners) > _CACHE_SIZE:
                self._owners.popitem(last=False)
        return account_id
