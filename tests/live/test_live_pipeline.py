"""Publish with real ffmpeg → live HLS → ENDLIST → recording becomes a completed VOD."""

from __future__ import annotations

import os
import random
import signal
import socket
from pathlib import Path

import av
import m3u8
import pytest

from tests.conftest import wait_for_status
from tests.helpers import eventually
from tests.live.conftest import LiveStack, publish

pytestmark = pytest.mark.slow


def live_dir(stack: LiveStack, media_id: str) -> Path:
    return stack.server.settings.storage_root / "hls" / media_id


def status_of(stack: LiveStack, key: str, media_id: str) -> dict:
    with stack.server.client(key) as client:
        return dict(client.get(f"/api/v1/live/{media_id}").json()["data"])


def test_publish_plays_ends_and_records(live_stack: LiveStack) -> None:
    write, _ = live_stack.server.account_keys()
    live = live_stack.create_live(write, title="Launch")
    media_id = live["mediaId"]
    publisher = publish(live_stack.rtmp_url(live["streamKey"]), seconds=7)
    folder = live_dir(live_stack, media_id)
    eventually(lambda: (folder / "source" / "seg_00000.ts").exists() and (folder / "master.m3u8").exists())
    assert status_of(live_stack, write, media_id)["status"] == "live"
    with live_stack.server.client() as client:
        master = m3u8.loads(client.get(f"/hls/{media_id}/master.m3u8").text)
    assert [p.uri for p in master.playlists] == ["source/index.m3u8", "360p/index.m3u8"]
    assert all(p.stream_info.codecs for p in master.playlists)
    # A second publisher on the busy key is refused.
    second = publish(live_stack.rtmp_url(live["streamKey"]), seconds=2)
    assert second.wait(timeout=30) != 0
    assert publisher.wait(timeout=60) == 0
    source = eventually(lambda: (p := m3u8.load(str(folder / "source" / "index.m3u8"))).is_endlist and p)
    assert source.segments and all(s.duration <= 2.6 for s in source.segments)
    # The live playlists decode end to end.
    for rung in ("source", "360p"):
        with av.open(str(folder / rung / "index.m3u8")) as container:
            frames = sum(1 for _ in container.decode(video=0))
        assert frames > 60
    ended = eventually(lambda: (s := status_of(live_stack, write, media_id))["recordings"] and s)
    assert ended["status"] == "ended"
    recording = ended["recordings"][0]
    assert recording["title"].startswith("Launch — recording ")
    data, _ = wait_for_status(live_stack.server, write, recording["mediaId"], timeout=120)
    assert data["encodingStatus"] == "completed"
    assert data["duration"] == pytest.approx(7, abs=1)


def test_bad_keys_are_refused(live_stack: LiveStack) -> None:
    write, _ = live_stack.server.account_keys()
    live = live_stack.create_live(write)
    bad = publish(live_stack.rtmp_url("1_" + "0" * 32), seconds=2)
    assert bad.wait(timeout=30) != 0
    wrong_app = publish(live_stack.rtmp_url(live["streamKey"], app="other"), seconds=2)
    assert wrong_app.wait(timeout=30) != 0
    # Expired and reset keys.
    from sqlalchemy import update

    from vsrc.db.models import LiveStream
    from vsrc.db.session import transaction
    from vsrc.timeutil import utcnow

    with transaction(live_stack.server.sessions) as session:
        session.execute(
            update(LiveStream).where(LiveStream.public_id == live["mediaId"]).values(expires_at=utcnow())
        )
    expired = publish(live_stack.rtmp_url(live["streamKey"]), seconds=2)
    assert expired.wait(timeout=30) != 0
    with live_stack.server.client(write) as client:
        fresh = client.post(f"/api/v1/live/{live['mediaId']}/reset-key").json()["data"]
    assert fresh["streamKey"] != live["streamKey"]
    old = publish(live_stack.rtmp_url(live["streamKey"]), seconds=2)
    assert old.wait(timeout=30) != 0
    assert status_of(live_stack, write, live["mediaId"])["status"] == "idle"


def test_three_concurrent_streams_and_an_abrupt_disconnect(live_stack: LiveStack) -> None:
    write, _ = live_stack.server.account_keys()
    streams = [live_stack.create_live(write, title=f"s{i}") for i in range(3)]
    publishers = [publish(live_stack.rtmp_url(s["streamKey"]), seconds=20, size="320x240") for s in streams]
    for s in streams:
        eventually(
            lambda s=s: (live_dir(live_stack, s["mediaId"]) / "source" / "seg_00001.ts").exists(), timeout=40
        )
    # The first publisher dies without unpublishing.
    os.kill(publishers[0].pid, signal.SIGKILL)
    publishers[0].wait()
    victim = streams[0]
    eventually(lambda: status_of(live_stack, write, victim["mediaId"])["status"] == "ended", timeout=40)
    assert m3u8.load(str(live_dir(live_stack, victim["mediaId"]) / "source" / "index.m3u8")).is_endlist
    # The others are unaffected.
    for s in streams[1:]:
        assert status_of(live_stack, write, s["mediaId"])["status"] == "live"
    for p in publishers[1:]:
        p.terminate()
        p.wait()


def test_timestamps_beyond_24_bits(live_stack: LiveStack) -> None:
    write, _ = live_stack.server.account_keys()
    live = live_stack.create_live(write)
    publisher = publish(
        live_stack.rtmp_url(live["streamKey"]), seconds=5, extra_out=["-output_ts_offset", "17000"]
    )
    assert publisher.wait(timeout=60) == 0, publisher.stderr.read() if publisher.stderr else ""
    folder = live_dir(live_stack, live["mediaId"])
    playlist = eventually(lambda: (p := m3u8.load(str(folder / "source" / "index.m3u8"))).is_endlist and p)
    assert sum(s.duration for s in playlist.segments) == pytest.approx(5, abs=1.2)


def test_garbage_on_the_port_does_not_hurt(live_stack: LiveStack) -> None:
    rng = random.Random(7)
    for payload in (
        bytes(rng.randrange(256) for _ in range(5000)),
        b"\x03" + b"\x00" * 100,
        b"GET / HTTP/1.1\r\n\r\n",
    ):
        with socket.create_connection(("127.0.0.1", live_stack.rtmp_port), timeout=5) as sock:
            sock.sendall(payload)
            sock.settimeout(15)
            try:
                while sock.recv(65536):
                    pass
            except (TimeoutError, ConnectionResetError):
                pass
    write, _ = live_stack.server.account_keys()
    live = live_stack.create_live(write)
    assert publish(live_stack.rtmp_url(live["streamKey"]), seconds=2).wait(timeout=30) == 0


def test_key_reset_during_a_broadcast_keeps_the_recording(live_stack: LiveStack) -> None:
    write, _ = live_stack.server.account_keys()
    live = live_stack.create_live(write, title="Reset")
    publisher = publish(live_stack.rtmp_url(live["streamKey"]), seconds=4)
    folder = live_dir(live_stack, live["mediaId"])
    eventually(lambda: (folder / "source" / "seg_00000.ts").exists())
    with live_stack.server.client(write) as client:
        assert client.post(f"/api/v1/live/{live['mediaId']}/reset-key").status_code == 200
    assert publisher.wait(timeout=60) == 0
    ended = eventually(lambda: (s := status_of(live_stack, write, live["mediaId"]))["recordings"] and s)
    assert ended["status"] == "ended" and ended["recordings"][0]["title"].startswith("Reset — recording ")


def test_stream_keys_never_reach_the_log(live_stack: LiveStack, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from tests.helpers import eventually

    caplog.set_level(logging.DEBUG, logger="vsrc")
    write, _ = live_stack.server.account_keys()
    live = live_stack.create_live(write, title="Secret")
    key = live["streamKey"]
    # The key in the app as well (a server URL of rtmp://host/live/KEY in OBS), then a good publish.
    in_app = ["-rtmp_app", f"live/{key}", "-rtmp_playpath", key]
    assert publish(live_stack.rtmp_url(key), seconds=2, extra_out=in_app).wait(timeout=30) != 0
    assert publish(live_stack.rtmp_url(key), seconds=2).wait(timeout=60) == 0
    eventually(lambda: status_of(live_stack, write, live["mediaId"])["recordings"], timeout=60)
    log = caplog.text
    assert "app='live/…'" in log and "publishing app='live'" in log  # both attempts were logged
    assert key not in log and key[8:] not in log and key[-8:] not in log
