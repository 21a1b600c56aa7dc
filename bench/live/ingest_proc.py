"""Our RTMP ingest in a process of its own, so its CPU time can be read from /proc.

    python -m bench.live.ingest_proc --out DIR [--port 0] [--sink pipe|packager] [--storage-url URL]

Every stream key is accepted; stream ``KEY`` is packaged into ``DIR/KEY/`` with
``build_live_hls_command`` and ``LiveProfile(rungs=())``: the source copied, no lower rungs.
``pipe`` feeds the FLV into that ffmpeg through :class:`vsrc.ingest.ProcessSink`; ``packager`` uses the
platform's :class:`~vsrc.ingest.packager.LivePackager` (which also writes the FLV recording), into
``DIR`` as local storage, or into ``--storage-url`` (an ``s3://`` bucket: stream ``KEY`` under ``KEY/``).
Prints ``PORT <n>`` once listening; stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from vsrc.ingest import ProcessSink, PublishGrant, RtmpServer, StreamSink
from vsrc.ingest.packager import LivePackager
from vsrc.media.commands import ffmpeg_exe
from vsrc.media.live import LiveProfile, build_live_hls_command
from vsrc.storage import LocalStorage, open_storage
from vsrc.storage.url import parse_storage_url

PASSTHROUGH = LiveProfile(rungs=())


class AllowAll:
    """Accepts any key (the database check is a one-off per publish, not part of the steady state)."""

    async def authorize(self, *, app: str, stream_key: str, addr: str) -> PublishGrant:
        return PublishGrant(app=app, stream_key=stream_key, addr=addr, stream_id=stream_key)

    async def on_publish_done(self, grant: PublishGrant) -> None:
        return None


def sink_factory(out: Path, kind: str, ffmpeg: str, storage_url: str | None = None):  # type: ignore[no-untyped-def]
    storage = (
        open_storage(parse_storage_url(storage_url), scratch=out / "scratch")
        if storage_url
        else LocalStorage(out)
    )

    async def make_sink(grant: PublishGrant) -> StreamSink:
        folder = out / grant.stream_id
        if kind == "packager":
            return LivePackager(
                ffmpeg=ffmpeg,
                storage=storage,
                prefix=grant.stream_id,
                recording=out / f"{grant.stream_id}.flv",
                profile=PASSTHROUGH,
            )
        folder.mkdir(parents=True, exist_ok=True)
        argv = build_live_hls_command(ffmpeg=ffmpeg, out_dir=folder, has_audio=True, profile=PASSTHROUGH)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return ProcessSink(proc)

    return make_sink


async def serve(out: Path, port: int, kind: str, storage_url: str | None) -> None:
    make_sink = sink_factory(out, kind, ffmpeg_exe(), storage_url)
    server = RtmpServer(AllowAll(), make_sink, host="127.0.0.1", port=port)
    await server.start()
    print(f"PORT {server.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--sink", choices=("pipe", "packager"), default="pipe")
    parser.add_argument("--storage-url", default=None, help="packager only: s3://… instead of --out")
    args = parser.parse_args()
    asyncio.run(serve(args.out, args.port, args.sink, args.storage_url))


if __name__ == "__main__":
    main()
