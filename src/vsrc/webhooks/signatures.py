"""``VSRC-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`` (Stripe's scheme).

The timestamp is signed with the body, so a captured delivery cannot be replayed after ``tolerance``
seconds; several ``v1=`` entries may appear (any one matching is enough).
"""

from __future__ import annotations

import hashlib
import hmac
import time

from vsrc.errors import InvalidSignature

SCHEME = "v1"


def compute_signature(secret: str, timestamp: int, raw_body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<raw body>"`` keyed with the whole ``whsec_…`` secret."""
    message = str(timestamp).encode() + b"." + raw_body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, raw_body: bytes, timestamp: int | None = None) -> str:
    """The ``VSRC-Signature`` header value for ``raw_body`` sent now (or at ``timestamp``)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},{SCHEME}={compute_signature(secret, t, raw_body)}"


def verify_signature(raw_body: bytes | str, header: str | None, secret: str, tolerance: int = 300) -> bool:
    """Check a delivery's ``VSRC-Signature`` header against the raw request body.

    ``raw_body`` must be the bytes as received — not JSON parsed and serialised again (any change of
    whitespace or key order breaks the signature). ``tolerance``: the most seconds the timestamp may be
    away from now (0 disables the check). Returns True, or raises ``InvalidSignature`` saying why.
    """
    body = raw_body.encode() if isinstance(raw_body, str) else bytes(raw_body)
    timestamp: int | None = None
    candidates: list[str] = []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError as exc:
                raise InvalidSignature("VSRC-Signature has a malformed timestamp") from exc
        elif key == SCHEME and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidSignature("VSRC-Signature header missing or malformed (expected t=…,v1=…)")
    if tolerance > 0 and abs(time.time() - timestamp) > tolerance:
        raise InvalidSignature("VSRC-Signature timestamp is outside the tolerance")
    expected = compute_signature(secret, timestamp, body).encode()
    # Compared as bytes: compare_digest raises TypeError on a str with non-ASCII characters.
    if not any(hmac.compare_digest(expected, c.encode()) for c in candidates):
        raise InvalidSignature("VSRC-Signature does not match the body and secret")
    return True
