"""Webhooks: the outbox (events written with the change), signed delivery with retries, and the
receiver-side ``verify_signature`` helper. See docs/webhooks.md."""

from vsrc.errors import InvalidSignature
from vsrc.webhooks.outbox import EVENT_TYPES
from vsrc.webhooks.signatures import signature_header, verify_signature

__all__ = ["EVENT_TYPES", "InvalidSignature", "signature_header", "verify_signature"]
