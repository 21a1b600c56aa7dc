"""What viewer delivery reads from storage, cached in this process (docs/architecture.md, "Delivery").

Delivery answers far more requests than anything else, so its answers come from memory where that is
safe, and every entry is checked against storage again after ``ttl`` seconds:

- segments, posters, storyboards and finished playlists (``#EXT-X-ENDLIST``, and a VOD's master) are
  final: kept, and re-checked once per ``ttl`` (a stat on local disk, a HEAD on S3), so that a deleted
  or replaced file stops being served within ``ttl`` in every API process;
- a playlist still growing (live, or a VOD whose encode is running) is re-checked on every request:
  on local disk by its stat (inode, size, mtime: writers replace files atomically), so it is re-read
  only when it changed; on S3 it is read again (a HEAD costs as much as reading a small playlist);
- the signed-playback marker of an item (``services/playback_policy``) is remembered for ``ttl``.

A policy change or a delete made by this process drops the item at once (``playback_policy.changed``);
other processes see it within ``ttl``. All methods here may block on storage: call them off the event
loop; the ``fresh_*`` look-ups only read memory.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.orm import Session, sessionmaker

from vsrc.db.session import transaction
from vsrc.errors import NotFound
from vsrc.media.tokenized import tokenize_playlist, tokenize_vtt
from vsrc.services import playback, playback_policy
from vsrc.storage import Storage

FINAL_SUFFIXES = (".ts", ".m4s", ".mp4", ".aac", ".jpg", ".jpeg", ".png", ".vtt")
# Bigger files are streamed in chunks instead of held in memory.
MAX_CACHED_FILE = 16 * 1024**2
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")  # what quote(…, safe="") leaves as it is


@dataclass
class Blob:
    """One stored file as delivery knows it: its bytes (None when too big to keep) and validator."""

    key: str
    size: int
    body: bytes | None
    stamp: tuple[int, ...]
    final: bool
    path: Path | None  # the local file, when storage keeps one
    checked: float = 0.0

    @cached_property
    def etag(self) -> bytes:
        """A strong validator for If-None-Match: the bytes' hash when they are in memory, else the
        key and its storage stamp (size and modification time on local disk, size on S3, whose
        streamed files are final and never rewritten in place)."""
        seed = self.body if self.body is not None else f"{self.key}{self.stamp}".encode()
        return b'"%s"' % hashlib.blake2b(seed, digest_size=12).hexdigest().encode()

    @cached_property
    def token_slots(self) -> tuple[bytes, ...]:
        """This playlist or storyboard cut where a signed viewer's ``token=…`` goes: the rewrite of
        ``media/tokenized.py`` is done once per version of the file, and ``with_token`` is one join.
        Costs a pass over the text: call it off the event loop the first time (``has_token_slots``)."""
        assert self.body is not None  # playlists and storyboards are small
        text = self.body.decode("utf-8")
        slot = "vsrcslot" + secrets.token_hex(8)
        while slot in text:  # so that every occurrence in the rewrite is one of ours
            slot = "vsrcslot" + secrets.token_hex(8)
        rewrite = tokenize_playlist if self.key.endswith(".m3u8") else tokenize_vtt
        return tuple(part.encode() for part in rewrite(text, slot).split(token_query(slot)))

    @property
    def has_token_slots(self) -> bool:
        return "token_slots" in self.__dict__

    def with_token(self, token: str) -> bytes:
        """The file as ``tokenize_playlist``/``tokenize_vtt`` rewrite it for ``token``."""
        return token_query(token).encode().join(self.token_slots)


def token_query(token: str) -> str:
    """``token=…`` as media/tokenized.py and ``playback.with_token`` write it (percent-encoded; tests
    compare them). A JWT is all URL-safe characters: then the quoting pass is skipped."""
    return "token=" + (token if _URL_SAFE.fullmatch(token) else quote(token, safe=""))


def is_final(key: str, body: bytes | None) -> bool:
    """Whether the file at ``key`` can no longer change (only a delete or a re-encode replaces it)."""
    if key.endswith(FINAL_SUFFIXES):
        return True
    if key.endswith(".m3u8") and body is not None:
        if b"#EXT-X-ENDLIST" in body:
            return True
        # A VOD's master playlist is written once, after its renditions' parameters are known.
        return key.startswith("hls/vod_") and key.endswith("/master.m3u8")
    return False


class DeliveryCache:
    """Files and signed-playback markers of this process, bounded to ``max_bytes`` of file bodies."""

    def __init__(
        self,
        storage: Storage,
        *,
        ttl: float,
        max_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage = storage
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._clock = clock
        self._files: OrderedDict[str, Blob] = OrderedDict()
        self._bytes = 0
        self._signed: dict[str, tuple[bool, float]] = {}
        self._items: dict[str, tuple[playback.PlaybackItem, float]] = {}
        self._lock = threading.Lock()
        playback_policy.on_change(self.forget)

    # -- memory only (safe on the event loop) --------------------------------------------
    def fresh_file(self, key: str) -> Blob | None:
        """The cached file when it is final and was checked less than ``ttl`` ago."""
        blob = self._files.get(key)
        if blob is None or not blob.final or self._clock() - blob.checked >= self.ttl:
            return None
        return blob

    def fresh_signed(self, public_id: str) -> bool | None:
        known = self._signed.get(public_id)
        if known is None or self._clock() - known[1] >= self.ttl:
            return None
        return known[0]

    def fresh_item(self, public_id: str) -> playback.PlaybackItem | None:
        known = self._items.get(public_id)
        if known is None or self._clock() - known[1] >= self.ttl:
            return None
        return known[0]

    # -- may block on storage or the database --------------------------------------------
    def signed(self, public_id: str) -> bool:
        """Whether ``public_id`` needs a token (its marker), remembered for ``ttl``."""
        value = playback_policy.is_signed(self.storage, public_id)
        with self._lock:
            self._signed[public_id] = (value, self._clock())
            if len(self._signed) > 100_000:
                self._signed.clear()  # a crude bound: entries are cheap to look up again
        return value

    def item(self, sessions: sessionmaker[Session], public_id: str) -> playback.PlaybackItem:
        """The VOD or live row behind ``public_id`` (for resolve), remembered for ``ttl``; unknown ids
        are ``NotFound`` and not remembered (a new item resolves at once)."""
        with transaction(sessions) as session:
            found = playback.find_item(session, public_id=public_id)
        with self._lock:
            self._items[public_id] = (found, self._clock())
            if len(self._items) > 100_000:
                self._items.clear()
        return found

    def file(self, key: str) -> Blob:
        """The file at ``key``, from memory when storage says it did not change; ``NotFound``."""
        known = self._files.get(key)
        now = self._clock()
        path = self.storage.local_file(key)
        if path is not None:
            stamp = _stamp(path)
        elif known is not None and known.final:
            stamp = (self.storage.size(key),)  # immutable on S3: only its existence can change
        else:
            stamp = ()
        if known is not None and stamp and stamp == known.stamp:
            known.checked = now
            return known
        blob = self._read(key, path, stamp)
        blob.checked = now
        if blob.body is not None:
            self._remember(blob)
        return blob

    def _read(self, key: str, path: Path | None, stamp: tuple[int, ...]) -> Blob:
        size = stamp[1] if path is not None and stamp else self.storage.size(key)
        body = None
        if size <= MAX_CACHED_FILE:
            body = b"".join(self.storage.read_range(key))
            size = len(body)
        if path is None:
            stamp = (size,)
        return Blob(key, size, body, stamp, is_final(key, body), path)

    def _remember(self, blob: Blob) -> None:
        with self._lock:
            old = self._files.pop(blob.key, None)
            if old is not None and old.body is not None:
                self._bytes -= len(old.body)
            assert blob.body is not None
            self._files[blob.key] = blob
            self._bytes += len(blob.body)
            while self._bytes > self.max_bytes and self._files:
                _, dropped = self._files.popitem(last=False)
                self._bytes -= len(dropped.body or b"")

    def touch(self, key: str) -> None:
        """Mark ``key`` recently used (LRU order); memory only."""
        with self._lock:
            if key in self._files:
                self._files.move_to_end(key)

    def forget(self, public_id: str) -> None:
        """Drop everything of ``public_id`` (its policy changed, or it was deleted)."""
        with self._lock:
            self._signed.pop(public_id, None)
            self._items.pop(public_id, None)
            for key in [k for k in self._files if k.split("/", 2)[1:2] == [public_id]]:
                dropped = self._files.pop(key)
                self._bytes -= len(dropped.body or b"")


def _stamp(path: Path) -> tuple[int, ...]:
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise NotFound("Not found") from exc
    return (st.st_ino, st.st_size, st.st_mtime_ns)
