"""Playback policy of media and live streams: ``public`` (default) or ``signed``.

The database row holds the policy the API shows. Delivery of files (playlists, segments, thumbnails)
must not pay a database lookup for public items, so a signed item also has an empty marker object
``signed/{publicId}`` in storage: one existence check per request tells the two apart. The marker is
written before the row says ``signed`` and removed only after the row says ``public``, so a crash in
between fails closed (a token is asked for), never open. See docs/architecture.md#integrations.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

from vsrc.errors import ValidationFailed
from vsrc.storage import Storage

PUBLIC = "public"
SIGNED = "signed"
POLICIES = (PUBLIC, SIGNED)


def parse_policy(value: str | None) -> str:
    """``public`` when absent or empty; ``ValidationFailed`` on ``playbackPolicy`` for anything else."""
    if value is None or value == "":
        return PUBLIC
    if value not in POLICIES:
        raise ValidationFailed.field("playbackPolicy", "playbackPolicy must be 'public' or 'signed'")
    return value


def marker_key(public_id: str) -> str:
    return f"signed/{public_id}"


def mark_signed(storage: Storage, public_id: str) -> None:
    """Make delivery ask for tokens for ``public_id`` (call before committing ``signed``)."""
    storage.put_bytes(marker_key(public_id), b"")
    changed(public_id)


def unmark_signed(storage: Storage, public_id: str) -> None:
    """Stop asking for tokens (call after committing ``public``, or to undo a failed create)."""
    storage.delete_prefix(marker_key(public_id))
    changed(public_id)


# Delivery caches of this process (services/delivery.py): told at once when an item's policy or files
# change here; other processes notice within their cache's TTL.
_listeners: list[weakref.WeakMethod[Callable[[str], None]]] = []
_listeners_lock = threading.Lock()


def on_change(callback: Callable[[str], None]) -> None:
    """Call the bound method ``callback(public_id)`` whenever this process changes an item's policy
    or deletes its files (held weakly: a dropped cache unsubscribes itself)."""
    with _listeners_lock:
        _listeners[:] = [ref for ref in _listeners if ref() is not None]
        _listeners.append(weakref.WeakMethod(callback))


def changed(public_id: str) -> None:
    """Tell this process's delivery caches to forget ``public_id``."""
    with _listeners_lock:
        callbacks = [cb for ref in _listeners if (cb := ref()) is not None]
    for callback in callbacks:
        callback(public_id)


def is_signed(storage: Storage, public_id: str) -> bool:
    """Whether delivery of ``public_id`` needs a token: one storage existence check, no database."""
    return storage.exists(marker_key(public_id))
