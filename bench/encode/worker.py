"""``vsrc worker`` variants for what-if runs of the encode benchmarks.

    python -m bench.encode.worker --max-delay 0.5   # Huey's idle polling capped at 0.5 s
    python -m bench.encode.worker --no-pause        # fast-start lanes that pause nothing

Identical to ``vsrc.cli.worker`` (``VSRC_WORKERS + VSRC_FAST_START_LANES`` encode threads) except
``max_delay`` (default: ``VSRC_QUEUE_POLL_SECONDS``) and, with ``--no-pause``, encodes that never
pause each other: a newcomer only shares the machine with the running encode (fair sharing).
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-delay", type=float, default=None)
    parser.add_argument("--no-pause", action="store_true")
    args = parser.parse_args()

    from vsrc.cli import _logging, _runtime
    from vsrc.tasks.lanes import LANES
    from vsrc.tasks.recovery import requeue_stale

    if args.no_pause:
        LANES._apply = lambda: None  # type: ignore[method-assign]
    runtime = _runtime()
    settings = runtime.settings
    _logging(settings)
    queue = runtime.queue
    requeue_stale(runtime, queue.enqueue_encode)
    consumer = queue.huey.create_consumer(
        workers=settings.workers + settings.fast_start_lanes,
        worker_type="thread",
        check_worker_health=True,
        max_delay=args.max_delay if args.max_delay is not None else settings.queue_poll_seconds,
    )
    consumer.run()


if __name__ == "__main__":
    main()
