"""The live packager keeps disk work off the event loop: a stalled recording disk (a FIFO nobody
reads) must not stop the loop, and the folder clean-up, mkdir and open run in worker threads."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import eventually
from tests.ingest.conftest import FFMPEG
from vsrc.ingest import TeeSink
from vsrc.ingest.packager import LivePackager
from vsrc.storage import LocalStorage

pytestmark = pytest.mark.slow

_audit: list[tuple[str, str, int]] = []
_audit_prefix: list[str] = []  # armed when non-empty: only paths under it are recorded
_hook_installed: list[bool] = []


def _audit_hook(event: str, args: tuple[Any, ...]) -> None:
    if _audit_prefix and event in ("open", "os.mkdir", "shutil.rmtree") and args:
        path = os.fsdecode(args[0]) if isinstance(args[0], str | bytes | os.PathLike) else ""
        if path.startswith(_audit_prefix[0]):
            _audit.append((event, path, threading.get_ident()))


@pytest.fixture(scope="module")
def flv(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """3 s of 640x360 H.264 + AAC as FLV, well over a pipe buffer (64 KiB)."""
    path = tmp_path_factory.mktemp("flv") / "src.flv"
    subprocess.run(
        [
            *(FFMPEG, "-y", "-hide_banner", "-loglevel", "error"),
            *("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine"),
            *("-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "12", "-g", "30"),
            *("-c:a", "aac", "-f", "flv", str(path)),
        ],
        check=True,
        timeout=120,
    )
    data = path.read_bytes()
    assert len(data) > 1024 * 1024
    return data


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in its own thread, as in ``vsrc ingest``."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True, name="packager-loop")
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=30)
    loop.close()


def responsive(loop: asyncio.AbstractEventLoop) -> bool:
    """The loop runs a trivial coroutine within 10 s (it would not while blocked in a write)."""
    try:
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(timeout=10)
        return True
    except TimeoutError:
        return False


def test_a_stalled_recording_never_blocks_the_event_loop(
    tmp_path: Path, flv: bytes, loop: asyncio.AbstractEventLoop
) -> None:
    if not _hook_installed:
        sys.addaudithook(_audit_hook)  # audit hooks cannot be removed: one per test process
        _hook_installed.append(True)
    out_dir = tmp_path / "storage" / "hls" / "live_x"
    (out_dir / "source").mkdir(parents=True)
    (out_dir / "source" / "seg_00007.ts").write_bytes(b"left over from the previous session")
    recording = tmp_path / "recordings" / "live_x.flv"
    recording.parent.mkdir()
    os.mkfifo(recording)
    # The reader end is open but nobody reads: writes stall once the pipe buffer is full.
    reader = os.open(recording, os.O_RDONLY | os.O_NONBLOCK)
    packager = LivePackager(
        ffmpeg=FFMPEG, storage=LocalStorage(tmp_path / "storage"), prefix="hls/live_x", recording=recording
    )
    loop_ident = asyncio.run_coroutine_threadsafe(_ident(), loop).result(timeout=10)

    async def feed() -> None:
        for start in range(0, len(flv), 4096):
            await packager.write(flv[start : start + 4096])

    received = bytearray()
    drained = threading.Event()

    def drain() -> None:
        os.set_blocking(reader, True)
        while chunk := os.read(reader, 65536):
            received.extend(chunk)
        drained.set()

    _audit.clear()
    _audit_prefix[:] = [str(tmp_path)]
    fed = asyncio.run_coroutine_threadsafe(feed(), loop)
    try:
        # Every byte was handed over although the recording has taken at most 64 KiB so far...
        eventually(fed.done, timeout=60, what="the publish was fed while the recording stalls")
        fed.result()
        # ...and the loop still answers at once.
        assert responsive(loop)
    finally:
        threading.Thread(target=drain, daemon=True).start()  # unblock the recording in any case
    asyncio.run_coroutine_threadsafe(packager.close(), loop).result(timeout=60)
    _audit_prefix.clear()
    assert drained.wait(30)
    os.close(reader)
    assert bytes(received) == flv  # the recording is complete and in order
    assert isinstance(packager.tee, TeeSink)
    assert not (out_dir / "source" / "seg_00007.ts").exists()
    assert (out_dir / "master.m3u8").exists()
    disk_work = {(event, Path(path).name) for event, path, _ in _audit}
    assert {("shutil.rmtree", "live_x"), ("os.mkdir", "live_x"), ("open", "live_x.flv")} <= disk_work
    on_loop = [(event, path) for event, path, ident in _audit if ident == loop_ident]
    assert on_loop == []


async def _ident() -> int:
    return threading.get_ident()


def test_a_disk_error_of_the_recording_is_raised_not_lost() -> None:
    from vsrc.ingest import FileSink

    async def run() -> None:
        sink = FileSink("/dev/full")  # every write fails with ENOSPC, like a full disk
        with pytest.raises(OSError, match="No space left"):
            for _ in range(64):  # the writer thread fails; a later write (or close) raises it
                await sink.write(bytes(256 * 1024))
                await asyncio.sleep(0.01)
            await sink.close()

    asyncio.run(run())
