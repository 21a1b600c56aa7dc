"""``vsrc worker`` variants for what-if runs of the encode benchmarks.

    python -m bench.encode.worker --max-delay 0.5   # Huey's idle polling capped at 0.5 s
    python -m bench.encode.worker --no-pause        # fast-start lanes that pause nothing
    python -m bench.encode.worker --without doorbell,probe,watch,warm   # fast-start levers off

Identical to ``vsrc.cli.worker`` (``VSRC_WORKERS + VSRC_FAST_START_LANES`` encode threads) except
``max_delay`` (default: ``VSRC_QUEUE_POLL_SECONDS``) and, with ``--no-pause``, encodes that never
pause each other: a newcomer only shares the machine with the running encode (fair sharing).
``--without`` turns off fast-start levers (issue 9, bench.encode.levers): ``doorbell`` (the SQLite
queue is only polled, every ``VSRC_QUEUE_POLL_SECONDS``), ``probe`` (the job probes the source
again instead of reusing the upload's result), ``watch`` (playable detected on progress reports
only), ``warm`` (the encode path is imported and ffmpeg found by the first job, not at start).
"""

from __future__ import annotations

import argparse

LEVERS = ("doorbell", "probe", "watch", "warm")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-delay", type=float, default=None)
    parser.add_argument("--no-pause", action="store_true")
    parser.add_argument("--without", default="", help=f"comma-separated levers to turn off: {LEVERS}")
    args = parser.parse_args()
    without = {name for name in args.without.split(",") if name}
    if without - set(LEVERS):
        parser.error(f"unknown levers: {without - set(LEVERS)}")

    from vsrc.cli import _logging, _runtime, _warm_up_encodes
    from vsrc.tasks.doorbell import Doorbell
    from vsrc.tasks.lanes import LANES
    from vsrc.tasks.recovery import requeue_stale

    if args.no_pause:
        LANES._apply = lambda: None  # type: ignore[method-assign]
    if "doorbell" in without:
        Doorbell.listener = lambda self: None  # type: ignore[method-assign]
    runtime = _runtime()
    settings = runtime.settings
    _logging(settings)
    if "warm" not in without:
        _warm_up_encodes(settings)
    if "probe" in without:
        from vsrc.media import probed

        probed.load = lambda text, mark: None  # type: ignore[assignment]
    if "watch" in without:
        from vsrc.tasks.playable import PlayableWatch

        PlayableWatch.start = lambda self: None  # type: ignore[method-assign]
    queue = runtime.queue
    requeue_stale(runtime, queue.enqueue_encode)
    consumer = queue.huey.create_consumer(
        workers=settings.workers + settings.fast_start_lanes,
        worker_type="thread",
        check_worker_health=True,
        max_delay=args.max_delay if args.max_delay is not None else settings.queue_poll_seconds,
    )
    try:
        consumer.run()
    finally:
        queue.stop_listening()


if __name__ == "__main__":
    main()
