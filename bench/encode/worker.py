"""``vsrc worker`` with a different Huey idle-polling cap (what-if for the queue pick-up delay).

    python -m bench.encode.worker --max-delay 0.5

Identical to ``vsrc.cli.worker`` except ``max_delay`` (Huey's default is 10 s: an idle consumer
backs off x1.15 per empty poll from 0.1 s up to 10 s between polls).
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-delay", type=float, required=True)
    args = parser.parse_args()

    from vsrc.cli import _logging, _runtime
    from vsrc.tasks.recovery import requeue_stale

    runtime = _runtime()
    settings = runtime.settings
    _logging(settings)
    queue = runtime.queue
    requeue_stale(runtime, queue.enqueue_encode)
    consumer = queue.huey.create_consumer(
        workers=settings.workers, worker_type="thread", check_worker_health=True, max_delay=args.max_delay
    )
    consumer.run()


if __name__ == "__main__":
    main()
