"""A direct upload on local storage: the partial file ``VSRC_DATA_DIR/tmp/tus/<uploadId>.part`` is the
offset's truth, ``flock``-ed by the request appending to it, and moved into storage at the last byte.
It lives on one API machine's disk: with several machines, route a tus URL to one of them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from vsrc.db.models import DirectUpload
from vsrc.db.session import transaction
from vsrc.ids import new_vod_id
from vsrc.services import partial_files
from vsrc.services.tus_store import Received
from vsrc.services.uploads import source_suffix
from vsrc.storage import Storage


class LocalReceiver:
    def __init__(self, sessions: sessionmaker[Session], upload_id: int, fd: int) -> None:
        self._sessions = sessions
        self._upload_id = upload_id
        self._fd: int | None = fd
        self.offset = partial_files.size_of(fd)

    def write(self, data: bytes | bytearray) -> None:
        assert self._fd is not None
        partial_files.write_all(self._fd, data)

    def tick(self, idle: float) -> None:
        """Nothing to do: every write is in the file already (a HEAD sees it)."""

    def keep(self) -> int:
        assert self._fd is not None
        offset = partial_files.size_of(self._fd)
        with transaction(self._sessions) as session:  # the REST API's view once the file is gone
            session.execute(
                update(DirectUpload)
                .where(DirectUpload.id == self._upload_id, DirectUpload.status == "uploading")
                .values(received_bytes=offset)
            )
        return offset

    def hold(self) -> bool:
        """The flock holds until ``close``."""
        return True

    def drop(self) -> None:
        assert self._fd is not None
        partial_files.truncate(self._fd, self.offset)

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            partial_files.close(fd)


class LocalTusStore:
    def __init__(self, sessions: sessionmaker[Session], storage: Storage, *, tmp_dir: Path) -> None:
        self._sessions = sessions
        self._storage = storage
        self._tmp_dir = tmp_dir

    def _path(self, upload: DirectUpload) -> Path:
        return partial_files.path_for(self._tmp_dir, upload.public_id)

    def begin(self, upload: DirectUpload) -> None:
        partial_files.create(self._path(upload))

    def offset(self, upload: DirectUpload) -> int:
        """The partial file's size while it exists (it grows during a long PATCH)."""
        size = partial_files.size(self._path(upload))
        return upload.received_bytes if size is None else size

    def open(self, upload: DirectUpload) -> LocalReceiver:
        return LocalReceiver(self._sessions, upload.id, partial_files.open_locked(self._path(upload)))

    @contextmanager
    def received(self, upload: DirectUpload) -> Iterator[Received]:
        path = self._path(upload)
        public_id = new_vod_id()
        key = f"media/{public_id}/original{source_suffix(upload.filename)}"
        try:
            yield Received(str(path), public_id, key, lambda: self._storage.put_file(key, path))
        finally:
            partial_files.remove(path)  # moved into storage on success; dropped otherwise

    def discard(self, upload: DirectUpload) -> None:
        partial_files.remove(self._path(upload))

    def expire(self, upload: DirectUpload) -> bool:
        path = self._path(upload)
        fd = partial_files.try_lock(path)
        if fd is None and path.exists():
            return False  # busy: a request is still writing
        try:
            with transaction(self._sessions) as session:
                session.execute(
                    update(DirectUpload)
                    .where(DirectUpload.id == upload.id, DirectUpload.status.in_(("waiting", "uploading")))
                    .values(status="expired")
                )
            partial_files.remove(path)
        finally:
            if fd is not None:
                partial_files.close(fd)
        return True

    def live_part_uploads(self) -> set[str]:
        return set()
