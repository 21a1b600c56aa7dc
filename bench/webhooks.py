"""Webhook fan-out: delivery latency after the change, and nothing lost while the receiver is down.

A real API server (uvicorn, in this process) and a real ``vsrc worker`` process; a real threaded
HTTP receiver on 127.0.0.1. Each event is a real change: ``PATCH /api/v1/media/{id}`` renaming one
uploaded video emits ``media.updated`` in the transaction of the change. Latency = arrival at the
receiver minus the event's ``createdAt`` (written in that transaction).

Phase 1: ``--events`` changes with the receiver up; p50/p95/max latency and throughput.
Phase 2: the receiver is stopped, ``--events`` more changes are made, it comes back on the same URL
after ``--outage`` seconds; every event must arrive (lost = sent minus distinct event ids received).

    .venv/bin/python -m bench.webhooks                 # 1,000 events, 60 s outage (~3 min)
    .venv/bin/python -m bench.webhooks --outage 10     # quick run
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import (
    make_clip,
    start_server,
    start_worker,
    stop_server,
    stop_worker,
    upload_file,
    wait_for_status,
)
from tests.helpers import eventually
from tests.webhooks.receiver import Receiver

from bench.common import loadavg, machine, md_table, percentile, today, wait_for_quiet


def created_at(body: dict) -> float:
    return datetime.strptime(body["createdAt"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def change(client, media_id: str, n: int) -> None:  # type: ignore[no-untyped-def]
    resp = client.patch(f"/api/v1/media/{media_id}", json={"title": f"bench {n}"})
    assert resp.status_code == 200, resp.text


def breakdown(server) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    """Per delivery: the POST's own duration (ms) and event -> attempt recorded (s), from the log rows."""
    from sqlalchemy import select

    from vsrc.db.models import WebhookDelivery, WebhookEvent

    with server.sessions() as session:
        rows = session.execute(
            select(WebhookDelivery.last_latency_ms, WebhookDelivery.last_attempt_at, WebhookEvent.created_at)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.status == "delivered")
        ).all()
    return [float(r[0]) for r in rows], [(r[1] - r[2]).total_seconds() for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the receiver is down in phase 2")
    parser.add_argument("--retry-base", type=float, default=15.0, help="VSRC_WEBHOOK_RETRY_BASE_SECONDS")
    parser.add_argument("--senders", type=int, default=4, help="VSRC_WEBHOOK_WORKERS")
    parser.add_argument("--wait-quiet", type=float, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--workdir", type=Path, help="keep the data dir (and the worker's log) here")
    parser.add_argument("--log-level", default="WARNING", help="VSRC_LOG_LEVEL of the worker")
    args = parser.parse_args()
    wait_for_quiet(args.wait_quiet)

    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        root = args.workdir or Path(tmp)
        server = start_server(root / "data", webhook_allow_private=True, log_level="WARNING")
        worker = start_worker(
            server.settings,
            VSRC_WEBHOOK_ALLOW_PRIVATE="true",
            VSRC_WEBHOOK_RETRY_BASE_SECONDS=str(args.retry_base),
            VSRC_WEBHOOK_WORKERS=str(args.senders),
            VSRC_LOG_LEVEL=args.log_level,
        )
        receiver = Receiver().start()
        try:
            key = server.key("write")
            media_id = upload_file(server, key, make_clip(root / "clip.mp4"))
            wait_for_status(server, key, media_id)  # its encode is not part of the measurement
            with server.client(key) as client:
                hook = client.post(
                    "/api/v1/webhooks", json={"url": receiver.url, "events": ["media.updated"]}
                ).json()["data"]
                assert hook["webhookId"], hook
                # Warm-up: one delivery end to end (first connections, first statements).
                client.post(f"/api/v1/webhooks/{hook['webhookId']}/test")
                eventually(lambda: receiver.delivered("webhook.test"), 120)

                # Phase 1: receiver up.
                start = time.monotonic()
                for n in range(args.events):
                    change(client, media_id, n)
                sent_s = time.monotonic() - start
                eventually(lambda: len(receiver.delivered("media.updated")) >= args.events, 600)
                drained_s = time.monotonic() - start
                up = receiver.delivered("media.updated")
                latencies = [r.at - created_at(r.event) for r in up]
                post_ms, recorded_after = breakdown(server)

                # Phase 2: receiver down for --outage seconds while changes keep coming.
                receiver.stop()
                down_at = time.monotonic()
                for n in range(args.events):
                    change(client, media_id, args.events + n)
                sent_during_outage_s = time.monotonic() - down_at
                time.sleep(max(0.0, args.outage - (time.monotonic() - down_at)))
                before = {r.event_id for r in receiver.requests}
                receiver.start()  # same port: same URL
                back_at = time.monotonic()
                outage_actual_s = back_at - down_at  # longer than --outage when the changes took longer

                def arrived() -> set[str]:
                    return {r.event_id for r in receiver.requests if r.status == 200} - before

                eventually(lambda: len(arrived()) >= args.events, 3600)
                recovered_s = time.monotonic() - back_at
                late = arrived()
                lost = args.events - len(late)
                log = client.get(
                    f"/api/v1/webhooks/{hook['webhookId']}/deliveries", params={"status": "failed"}
                ).json()["data"]["pagination"]["total"]
        finally:
            receiver.stop()
            stop_worker(worker)
            stop_server(server)

    duplicates = len([r for r in receiver.requests if r.status == 200]) - len(
        {r.event_id for r in receiver.requests if r.status == 200}
    )
    result = {
        "when": today(),
        "machine": machine(),
        "load_end": loadavg(),
        "events": args.events,
        "senders": args.senders,
        "retry_base_s": args.retry_base,
        "phase1_send_s": round(sent_s, 2),
        "phase1_all_delivered_s": round(drained_s, 2),
        "latency_p50_s": round(percentile(latencies, 50), 3),
        "latency_p95_s": round(percentile(latencies, 95), 3),
        "latency_max_s": round(max(latencies), 3),
        "post_ms_p50": percentile(post_ms, 50),
        "post_ms_p95": percentile(post_ms, 95),
        "event_to_recorded_s_p95": round(percentile(recorded_after, 95), 3),
        "outage_s": args.outage,
        "outage_actual_s": round(outage_actual_s, 1),
        "phase2_send_s": round(sent_during_outage_s, 2),
        "phase2_all_delivered_after_return_s": round(recovered_s, 2),
        "lost": lost,
        "failed_deliveries": log,
        "duplicates_received": duplicates,
    }
    print(
        md_table(
            ["metric", "value"],
            [[k, v] for k, v in result.items()],
        )
    )
    verdict = "PASS" if result["latency_p95_s"] < 2 and lost == 0 else "MISS"
    print(f"\ntarget p95 < 2 s and zero lost: {verdict}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
