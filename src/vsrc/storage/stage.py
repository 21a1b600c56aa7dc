"""Local scratch folders for ffmpeg: what a writer puts in one becomes objects under a key prefix.

ffmpeg and PyAV need local files. ``Storage.stage(prefix)`` hands out a folder to write into and
``Storage.fetch(key)`` a local file to read; on local storage both are the stored files themselves (no
copy), on S3 they are scratch files under the process's scratch root, published or removed by the
storage layer (docs/architecture.md, "Storage").

Publishing order keeps a stage playable while it is written: a sync uploads the files a playlist
names before the playlist, so a reader of the bucket never sees a playlist listing a missing segment.
Objects whose local file was removed (a live window sliding on) are deleted after the playlists.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

log = logging.getLogger("vsrc.storage")

PLAYLIST_SUFFIXES = (".m3u8",)
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".vtt": "text/vtt; charset=utf-8",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}
# ffmpeg writes to "NAME.tmp" and renames; our own writers use ".NAME.*.part". Neither is finished.
UNFINISHED_SUFFIXES = (".tmp", ".part")


class Publisher(Protocol):
    """What a stage needs of a remote backend."""

    def upload(self, key: str, source: Path) -> None:
        """Copy ``source`` to ``key`` (the local file stays)."""

    def delete_keys(self, keys: Iterable[str]) -> None: ...


def is_playlist(name: str) -> bool:
    return name.endswith(PLAYLIST_SUFFIXES)


def referenced(playlist: Path, text: str | None = None) -> set[Path]:
    """The local files a playlist names (URI lines and ``URI="…"`` attributes), resolved. ``text``:
    the playlist's content when already read (a snapshot), else it is read from ``playlist``."""
    if text is None:
        try:
            text = playlist.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return set()
    names: set[Path] = set()
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            start = line.find('URI="')
            if start < 0:
                continue
            end = line.find('"', start + 5)
            line = line[start + 5 : end] if end > 0 else ""
            if not line:
                continue
        if "://" in line or line.startswith("/"):
            continue
        names.add((playlist.parent / line.split("?", 1)[0]).resolve())
    return names


class LocalStage:
    """Local storage: the stage IS the stored folder; nothing to publish."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def sync(self) -> int:
        return 0


class RemoteStage:
    """A scratch folder mirrored to ``prefix`` by ``sync`` (thread-safe; one sync at a time)."""

    def __init__(self, path: Path, prefix: str, publisher: Publisher) -> None:
        self.path = path
        self.prefix = prefix.rstrip("/")
        self.publisher = publisher
        # relative name -> (size, mtime_ns) as published
        self._published: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def sync(self, *, final: bool = False) -> int:
        """Publish what is finished: files named by a playlist (``final``: every file), then the
        playlists that changed, then delete objects whose file is gone. Returns how many objects
        were written or deleted."""
        with self._lock:
            return self._sync(final)

    def _sync(self, final: bool) -> int:
        files = {p.relative_to(self.path).as_posix(): p for p in _files(self.path)}
        # One snapshot of each playlist: a writer (live ffmpeg) may rewrite it during the sync, and
        # what is published must be the version whose segments were uploaded first.
        snapshots = {name: _snapshot(files[name]) for name in files if is_playlist(name)}
        names_of = {
            name: referenced(files[name], data.decode("utf-8", "replace"))
            for name, data in snapshots.items()
            if data is not None
        }
        named: set[Path] = set().union(*names_of.values())
        root = self.path.resolve()
        media = {name: path for name, path in files.items() if not is_playlist(name)}
        for path in named:  # written after the listing but already named by a snapshot
            if root in path.parents and not is_playlist(path.name) and path.is_file():
                media.setdefault(path.relative_to(root).as_posix(), path)
        changed = 0
        # Media first: a playlist is published only after everything it names.
        for name, path in sorted(media.items()):
            if not final and path.resolve() not in named:
                continue
            changed += self._publish(name, path)
        for name in sorted(names_of, key=_master_last):
            data = snapshots[name] or b""
            changed += self._publish_playlist(name, files[name], data, names_of[name], final)
        gone = [name for name in self._published if name not in files and name not in media]
        if gone:
            self.publisher.delete_keys(f"{self.prefix}/{name}" for name in gone)
            for name in gone:
                del self._published[name]
            changed += len(gone)
        return changed

    def _publish(self, name: str, path: Path) -> int:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return 0  # removed (or renamed) since the listing: the next sync sees the new state
        mark = (stat.st_size, stat.st_mtime_ns)
        if self._published.get(name) == mark:
            return 0
        self.publisher.upload(f"{self.prefix}/{name}", path)
        self._published[name] = mark
        return 1

    def _publish_playlist(self, name: str, path: Path, data: bytes, names: set[Path], final: bool) -> int:
        """Publish the snapshot ``data`` of a playlist once every file it names is published (else
        the next sync tries again; ``final`` publishes it in any case)."""
        root = self.path.resolve()
        unpublished = [
            n for n in names if root in n.parents and n.relative_to(root).as_posix() not in self._published
        ]
        if unpublished and not final:
            return 0
        mark = (len(data), hash(data))
        if self._published.get(name) == mark:
            return 0
        copy = path.with_name(f".{path.name}.{secrets.token_hex(4)}.snapshot")
        try:
            copy.write_bytes(data)
            self.publisher.upload(f"{self.prefix}/{name}", copy)
        finally:
            copy.unlink(missing_ok=True)
        self._published[name] = mark
        return 1


def _snapshot(playlist: Path) -> bytes | None:
    try:
        return playlist.read_bytes()
    except FileNotFoundError:
        return None


def _master_last(name: str) -> tuple[int, str]:
    """Variant playlists before the master that names them."""
    return (1 if "/" not in name else 0, name)


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            if name.startswith(".") or name.endswith(UNFINISHED_SUFFIXES):
                continue
            found.append(Path(folder) / name)
    return found


class AutoSync:
    """Calls ``sync`` every ``interval`` seconds on a thread until stopped (live packaging)."""

    def __init__(self, sync: Callable[[], int], interval: float, name: str) -> None:
        self._sync, self._interval = sync, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._sync()
            except Exception:
                # A transient storage error: the next round retries what is still unpublished.
                log.exception("publishing a stage failed; retrying")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def new_scratch(root: Path, label: str) -> Path:
    """A fresh scratch folder ``root/PID-LABEL-RANDOM`` (the pid lets ``sweep_scratch`` find leftovers
    of dead processes)."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in label)[:40]
    path = root / f"{os.getpid()}-{safe}-{secrets.token_hex(4)}"
    path.mkdir(parents=True)
    return path


def sweep_scratch(root: Path) -> int:
    """Remove scratch folders left by processes that no longer run; returns how many."""
    if not root.is_dir():
        return 0
    removed = 0
    for entry in root.iterdir():
        pid = entry.name.split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    if removed:
        log.info("removed %d scratch folder(s) of dead processes from %s", removed, root)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
