"""A signed live stream published with real ffmpeg: live HLS needs a token, the playlists served carry
it to the segments, and the recording that becomes a VOD is signed too."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import wait_for_status
from tests.helpers import eventually
from tests.live.conftest import LiveStack, publish
from vsrc.services.tokens import load_private_key, sign_token

pytestmark = pytest.mark.slow


def test_signed_live_stream_and_its_recording(live_stack: LiveStack) -> None:
    server = live_stack.server
    write, read = server.account_keys()
    live = live_stack.create_live(write, title="Members", playbackPolicy="signed")
    live_id = live["mediaId"]
    with server.client(write) as client:
        private_key = load_private_key(client.post("/api/v1/signing-keys").json()["data"]["privateKey"])[0]
    token = sign_token(private_key, media_id=live_id, expires_in=600)
    publisher = publish(live_stack.rtmp_url(live["streamKey"]), seconds=6)
    folder = server.settings.storage_root / "hls" / live_id
    eventually(lambda: (folder / "source" / "seg_00000.ts").exists() and (folder / "master.m3u8").exists())
    with server.client() as client:
        master_path = f"/hls/{live_id}/master.m3u8"
        denied = client.get(master_path)
        assert denied.status_code == 403 and denied.json()["errors"][0]["field"] == "token"
        assert client.head(master_path).status_code == 403  # the player's live probe
        assert client.head(master_path, params={"token": token}).status_code == 200
        master = client.get(master_path, params={"token": token})
        assert master.status_code == 200
        variant_uri = next(line for line in master.text.splitlines() if line.startswith("source/"))
        assert variant_uri == f"source/index.m3u8?token={token}"
        variant_url = httpx.URL(str(master.url)).join(variant_uri)
        assert client.get(variant_url.copy_remove_param("token")).status_code == 403
        variant = client.get(variant_url)
        segment_uri = next(line for line in variant.text.splitlines() if line.startswith("seg_"))
        assert segment_uri.endswith(f"?token={token}")
        segment = client.get(variant_url.join(segment_uri))
        assert segment.status_code == 200 and segment.content[:1] == b"\x47"  # MPEG-TS sync byte
    assert publisher.wait(timeout=60) == 0

    def recording() -> str | None:
        with server.client(read) as client:
            recordings = client.get(f"/api/v1/live/{live_id}").json()["data"]["recordings"]
        return recordings[0]["mediaId"] if recordings else None

    vod_id = eventually(recording, timeout=60, what="the recording")
    data, _ = wait_for_status(server, read, vod_id, timeout=120)
    assert data["encodingStatus"] == "completed" and data["playbackPolicy"] == "signed"
    with server.client() as client:
        assert client.get(f"/hls/{vod_id}/master.m3u8").status_code == 403
        assert client.get(f"/thumbnails/{vod_id}/poster.jpg").status_code == 403
        vod_token = sign_token(private_key, media_id=vod_id, expires_in=600, audience=["v", "t"])
        assert client.get(f"/hls/{vod_id}/master.m3u8", params={"token": vod_token}).status_code == 200
        assert client.get(f"/thumbnails/{vod_id}/poster.jpg", params={"token": vod_token}).status_code == 200
        # The live stream's token does not open its recording (sub is the media id).
        assert client.get(f"/hls/{vod_id}/master.m3u8", params={"token": token}).status_code == 403
