"""Our RTMP ingest in a process of its own, so its CPU time can be read from /proc.

    python -m bench.live.ingest_proc --out DIR [--port 0] [--sink pipe|packager]

Every stream key is accepted; stream ``KEY`` is packaged into ``DIR/KEY/`` with
``build_live_hls_command`` and ``LiveProfile(rungs=())``: the source copied, no lower rungs.
``pipe`` feeds the FLV into that ffmpeg through :class:`vsrc.ingest.ProcessSink`; ``packager`` uses the
platform's :class:`~vsrc.ingest.packager.LivePackager` (which also writes the FLV recording).
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
from vsrc.storage import LocalStorage

PASSTHROUGH = LiveProfile(rungs=())


class AllowAll:
    """Accepts any key (the database check is a one-off per publish, not part of the steady state)."""

    async def authorize(self, *, app: str, stream_key: str, addr: str) -> PublishGrant:
        return PublishGrant(app=app, stream_key=stream_key, addr=addr, stream_id=stream_key)

    async def on_publish_done(self, grant: PublishGrant) -> None:
        return None


def sink_factory(out: Path, kind: str, ffmpeg: str):  # type: ignore[no-untyped-def]
    async def make_sink(grant: PublishGrant) -> StreamSink:
        folder = out / grant.stream_id
        if kind == "packager":
            return LivePackager(
                ffmpeg=ffmpeg,
                storage=LocalStorage(out),
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


async def serve(out: Path, port: int, kind: str) -> None:
    server = RtmpServer(AllowAll(), sink_factory(out, kind, ffmpeg_exe()), host="127.0.0.1", port=port)
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
    args = parser.parse_args()
    asyncio.run(serve(args.out, args.port, args.sink))


if __name__ == "__main__":
    main()
