"""A direct upload on object storage: the bytes stream into an S3 multipart upload of the media item's
original (key and upload id chosen at tus creation), so no API machine's disk holds the file and any
API machine can continue it.

The ``uploads`` row is the truth: the parts sent (number, ETag, size), the "tail" object holding the
bytes past the last part (fewer than a part: S3 parts are at least 5 MiB, so a PATCH's loose end
cannot be a part) and the offset = parts + tail. A PATCH holds a lease on the row (holder, expiry: a
conditional UPDATE), renewed while bytes flow and checked before each part is sent; another request
gets ``Locked`` (423) until the holder ends or its lease lapses (``LEASE_SECONDS`` after its bytes
stopped). A request whose body stalls for ``STALL_SECONDS`` writes its loose bytes to a new tail object,
so what HEAD reports is what any machine can resume from. Memory: one part per request.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from vsrc.db.models import DirectUpload
from vsrc.db.session import transaction
from vsrc.errors import Conflict, Gone, Locked, NotFound, PayloadTooLarge, StorageError
from vsrc.ids import new_vod_id
from vsrc.services.tus_store import Received
from vsrc.services.uploads import source_suffix
from vsrc.storage import Storage
from vsrc.storage.base import PartUploads
from vsrc.timeutil import utcnow

log = logging.getLogger("vsrc.services.tus_s3")

PART_SIZE = 8 * 1024**2  # S3's smallest part is 5 MiB (except the last)
MAX_PARTS = 9000  # S3 allows 10,000; larger uploads get larger parts
LEASE_SECONDS = 30.0
RENEW_SECONDS = 5.0
STALL_SECONDS = 2.0
PROBE_URL_SECONDS = 3600.0  # the probe reads every packet of up to the upload limit
ACTIVE = ("waiting", "uploading")


def _lease_free(now: datetime) -> ColumnElement[bool]:
    """No request holds the upload: never leased, or its lease ran out (its holder died or stalled)."""
    return or_(DirectUpload.lease_holder.is_(None), DirectUpload.lease_expires_at <= now)


def part_size_for(length: int) -> int:
    """8 MiB, or whole MiB large enough to fit ``length`` in ``MAX_PARTS`` parts."""
    mib = 1024**2
    return max(PART_SIZE, math.ceil(length / MAX_PARTS / mib) * mib)


def tail_prefix(upload: DirectUpload) -> str:
    return f"tus/{upload.public_id}"


class PartsReceiver:
    """One PATCH's lease on an upload: bytes fill a part buffer; a full part is sent and recorded."""

    def __init__(self, store: PartsTusStore, upload: DirectUpload, holder: str) -> None:
        assert upload.source_key and upload.length is not None and upload.part_size
        self._store = store
        self._upload = upload
        self._holder: str | None = holder
        self._key = upload.source_key
        self._length = upload.length
        self._part_size = upload.part_size
        self._parts: list[list[Any]] = [list(p) for p in upload.parts or []]
        self._parts_bytes = sum(int(p[2]) for p in self._parts)
        self.offset = upload.received_bytes
        tail = self.offset - self._parts_bytes
        self._tail_key = upload.tail_key
        self._buffer = bytearray()
        if tail:
            assert self._tail_key is not None
            for chunk in store.storage.read_range(self._tail_key, 0, tail):
                self._buffer += chunk
            if len(self._buffer) != tail:
                raise StorageError(f"the tail of upload {upload.public_id} is shorter than recorded")
        self._kept = tail  # bytes of the buffer already in the tail object
        self._renewed = time.monotonic()

    @property
    def _upload_id(self) -> str:
        assert self._upload.storage_upload_id is not None
        return self._upload.storage_upload_id

    def write(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        while view:
            take = min(len(view), self._part_size - len(self._buffer))
            if take == 0:  # the last part is full: the route never feeds past the length
                raise PayloadTooLarge("The PATCH body goes past Upload-Length")
            self._buffer += view[:take]
            view = view[take:]
            # The last part is sent by keep(), together with the completion.
            full = len(self._buffer) == self._part_size
            if full and self._parts_bytes + self._part_size < self._length:
                self._send_part()

    def _send_part(self) -> None:
        self._commit()  # still ours: a lapsed lease must not reuse a part number another holder uses
        number = len(self._parts) + 1
        etag = self._store.parts.put_part(self._key, self._upload_id, number, bytes(self._buffer))
        self._parts.append([number, etag, len(self._buffer)])
        self._parts_bytes += len(self._buffer)
        old_tail, self._tail_key = self._tail_key, None
        self._buffer, self._kept = bytearray(), 0
        self._commit(parts=[list(p) for p in self._parts], tail_key=None, received_bytes=self._parts_bytes)
        self._store.drop_object(old_tail)

    def tick(self, idle: float) -> None:
        stalled = idle >= STALL_SECONDS
        if stalled and len(self._buffer) > self._kept and self._total < self._length:
            self.keep()
        elif not stalled and time.monotonic() - self._renewed >= RENEW_SECONDS:
            self._commit()

    @property
    def _total(self) -> int:
        return self._parts_bytes + len(self._buffer)

    def keep(self) -> int:
        if self._total == self._length:
            self._complete()
        elif len(self._buffer) > self._kept:
            new_tail = f"{tail_prefix(self._upload)}/tail-{secrets.token_hex(8)}"
            self._store.storage.put_bytes(new_tail, bytes(self._buffer))
            try:
                self._commit(tail_key=new_tail, received_bytes=self._total)
            except BaseException:
                self._store.drop_object(new_tail)
                raise
            old_tail, self._tail_key, self._kept = self._tail_key, new_tail, len(self._buffer)
            self._store.drop_object(old_tail)
        return self._parts_bytes + self._kept

    def _complete(self) -> None:
        if self._buffer:
            self._send_part()
        else:
            self._commit()  # a retried last PATCH: still ours before completing
        numbered = [(int(n), str(etag)) for n, etag, _ in self._parts]
        try:
            self._store.parts.complete(self._key, self._upload_id, numbered)
        except NotFound:
            # Completed by an earlier request that died before recording it: the object is there.
            if self._store.storage.exists(self._key) and self._store.storage.size(self._key) == self._length:
                return
            raise

    def hold(self) -> bool:
        if time.monotonic() - self._renewed < RENEW_SECONDS:
            return True
        try:
            self._commit()
        except Conflict:  # completed (or cancelled) meanwhile: nothing left to hold
            return False
        return True

    def drop(self) -> None:
        del self._buffer[self._kept :]

    def _commit(self, **values: Any) -> None:
        """Record ``values`` and extend the lease, if the upload is still ours and uploading."""
        assert self._holder is not None, "the lease was released"
        with transaction(self._store.sessions) as session:
            done = session.execute(
                update(DirectUpload)
                .where(
                    DirectUpload.id == self._upload.id,
                    DirectUpload.lease_holder == self._holder,
                    DirectUpload.status == "uploading",
                )
                .values(lease_expires_at=utcnow() + timedelta(seconds=LEASE_SECONDS), **values)
            )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("The upload was cancelled, expired or taken over by another request")
        self._renewed = time.monotonic()

    def close(self) -> None:
        if self._holder is not None:
            holder, self._holder = self._holder, None
            release(self._store.sessions, self._upload.id, holder)


def release(sessions: sessionmaker[Session], upload_id: int, holder: str) -> None:
    with transaction(sessions) as session:
        session.execute(
            update(DirectUpload)
            .where(DirectUpload.id == upload_id, DirectUpload.lease_holder == holder)
            .values(lease_holder=None, lease_expires_at=None)
        )


class PartsTusStore:
    def __init__(self, sessions: sessionmaker[Session], storage: Storage, parts: PartUploads) -> None:
        self.sessions = sessions
        self.storage = storage
        self.parts = parts

    def begin(self, upload: DirectUpload) -> None:
        assert upload.length is not None
        upload.source_key = f"media/{new_vod_id()}/original{source_suffix(upload.filename)}"
        upload.part_size = part_size_for(upload.length)
        upload.parts = []
        if upload.length:  # an empty upload fails at once; S3 has no multipart upload of nothing
            upload.storage_upload_id = self.parts.begin(upload.source_key)

    def offset(self, upload: DirectUpload) -> int:
        return upload.received_bytes

    def open(self, upload: DirectUpload) -> PartsReceiver:
        if upload.source_key is None:  # its bytes are in a partial file of local storage's days
            raise Gone("This upload began before the storage moved to S3; create a new upload")
        holder = secrets.token_hex(16)
        now = utcnow()
        with transaction(self.sessions) as session:
            done = session.execute(
                update(DirectUpload)
                .where(
                    DirectUpload.id == upload.id,
                    DirectUpload.status == "uploading",
                    _lease_free(now),
                )
                .values(lease_holder=holder, lease_expires_at=now + timedelta(seconds=LEASE_SECONDS))
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise Locked("Another request is writing this upload; retry after it ends")
            leased = session.scalars(
                select(DirectUpload)
                .where(DirectUpload.id == upload.id)
                .execution_options(populate_existing=True)
            ).one()
        receiver: PartsReceiver | None = None
        try:
            receiver = PartsReceiver(self, leased, holder)
            return receiver
        finally:
            if receiver is None:  # the tail could not be read: let the next request try
                release(self.sessions, upload.id, holder)

    @contextmanager
    def received(self, upload: DirectUpload) -> Iterator[Received]:
        assert upload.source_key is not None
        key = upload.source_key
        public_id = key.split("/")[1]
        try:
            # The probe reads the object in place (a presigned URL: no scratch copy, small buffers).
            with self.storage.readable(key, expires=PROBE_URL_SECONDS) as source:
                yield Received(source, public_id, key, lambda: None)
        except BaseException:
            self.storage.delete_prefix(f"media/{public_id}")
            raise
        finally:
            self.storage.delete_prefix(tail_prefix(upload))

    def discard(self, upload: DirectUpload) -> None:
        if upload.storage_upload_id and upload.source_key:
            self.parts.abort(upload.source_key, upload.storage_upload_id)
        self.storage.delete_prefix(tail_prefix(upload))

    def expire(self, upload: DirectUpload) -> bool:
        now = utcnow()
        with transaction(self.sessions) as session:
            done = session.execute(
                update(DirectUpload)
                .where(
                    DirectUpload.id == upload.id,
                    DirectUpload.status.in_(ACTIVE),
                    _lease_free(now),
                )
                .values(status="expired")
            )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return False  # a request is writing it (or it just finished)
        self.discard(upload)
        return True

    def live_part_uploads(self) -> set[str]:
        with transaction(self.sessions) as session:
            ids = session.scalars(
                select(DirectUpload.storage_upload_id).where(
                    DirectUpload.status.in_(ACTIVE), DirectUpload.storage_upload_id.is_not(None)
                )
            )
            return {i for i in ids if i}

    def drop_object(self, key: str | None) -> None:
        """Remove a superseded tail object; one left behind goes with the upload's tail prefix."""
        if key is None:
            return
        try:
            self.storage.delete_prefix(key)
        except StorageError:
            log.warning("could not remove %s; it goes when the upload ends", key, exc_info=True)
