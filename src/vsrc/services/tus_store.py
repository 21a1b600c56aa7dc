"""Where a direct (tus) upload's bytes wait until the last one: one interface, two backends.

- Local storage (``tus_local``): a partial file on the API machine's disk, ``flock``-ed by the request
  writing it, moved into storage at the end.
- Object storage (``tus_s3``): an S3 multipart upload of the media item's original, begun at tus
  creation; whatever does not fill a part waits in a small "tail" object; the parts, the tail and the
  offset are recorded in the ``uploads`` row, so any API machine can continue the upload. A lease on
  the row (not a file lock) keeps two requests from writing at once.

Every method blocks (disk, database, S3): call them off the event loop (docs/architecture.md,
"Direct uploads (tus)").
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from vsrc.db.models import DirectUpload


class Receiver(Protocol):
    """One PATCH's exclusive hold on an upload, from ``TusStore.open`` until ``close``."""

    @property
    def offset(self) -> int:
        """The upload's durable offset when the hold was taken."""

    def write(self, data: bytes | bytearray) -> None:
        """Append ``data`` (its offset is the end of what was written before)."""

    def tick(self, idle: float) -> None:
        """Called about once a second while the request reads; ``idle``: seconds since its last
        byte (S3 keeps a stalled request's bytes and renews the lease while bytes flow)."""

    def keep(self) -> int:
        """Make every byte written so far durable (at the last byte: the whole object); returns the
        upload's offset."""

    def hold(self) -> bool:
        """Renew the hold while this request turns the complete upload into a media item (a long
        probe must not let another request start a second completion); False once it is not ours."""

    def drop(self) -> None:
        """Forget what this request wrote that is not durable yet (a body past the length)."""

    def close(self) -> None:
        """Release the hold (idempotent)."""


@dataclass(frozen=True)
class Received:
    """A complete upload on its way to becoming a media item."""

    source: str  # what the probe reads: a local file, or a URL (``Storage.readable``)
    public_id: str  # the media item's id
    key: str  # where its original is (or goes) in storage
    put: Callable[[], None]  # store it under ``key`` (a no-op where it is already there)


class TusStore(Protocol):
    def begin(self, upload: DirectUpload) -> None:
        """tus creation (``upload.length`` and ``filename`` set, inside the transaction recording
        them): prepare where the bytes go."""

    def offset(self, upload: DirectUpload) -> int:
        """Bytes held durably for an ``uploading`` upload (what HEAD answers)."""

    def open(self, upload: DirectUpload) -> Receiver:
        """Hold the upload for one PATCH; ``Locked`` while another request holds it."""

    def received(self, upload: DirectUpload) -> AbstractContextManager[Received]:
        """The complete upload for the probe and the store; whatever is left of the bytes' waiting
        place (partial file, tail object) goes on exit, the stored original too if the block raised."""

    def discard(self, upload: DirectUpload) -> None:
        """Free what an upload that will never complete holds (cancel, expiry, failure)."""

    def expire(self, upload: DirectUpload) -> bool:
        """Record an expired upload ``expired`` and free its bytes, unless a request is writing it
        (then False: the next sweep tries again)."""

    def live_part_uploads(self) -> set[str]:
        """Storage upload ids of active uploads (kept by ``Storage.abort_unfinished``)."""
