"""Other RTMP publishers than ffmpeg: GStreamer's rtmpsink (librtmp, the library OBS grew up on) and
rtmp2sink (GStreamer's own RTMP client) publish to our ingest, and get refused on a bad key."""

from __future__ import annotations

import shutil
import subprocess

import av
import m3u8
import pytest

from tests.helpers import eventually
from tests.live.conftest import LiveStack
from tests.live.test_live_pipeline import live_dir

pytestmark = pytest.mark.slow

GST = shutil.which("gst-launch-1.0")


def has_element(name: str) -> bool:
    return bool(GST) and subprocess.run(["gst-inspect-1.0", name], capture_output=True).returncode == 0


def gst_publish(sink: str, url: str) -> subprocess.CompletedProcess[str]:
    # gst-launch joins its argv again, so the quotes keep librtmp's "URL live=1" together.
    location = f'location="{url} live=1"' if sink == "rtmpsink" else f"location={url}"
    pipeline = (
        "videotestsrc is-live=true num-buffers=150 ! video/x-raw,width=320,height=240,framerate=30/1 ! "
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! h264parse ! queue ! "
        f"flvmux name=m streamable=true ! {sink} {location} "
        "audiotestsrc is-live=true num-buffers=235 ! audioconvert ! audioresample ! voaacenc ! aacparse ! "
        "queue ! m."
    )
    assert GST is not None
    return subprocess.run([GST, "-e", *pipeline.split()], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("sink", ["rtmpsink", "rtmp2sink"])
def test_gstreamer_publishers(live_stack: LiveStack, sink: str) -> None:
    if not all(has_element(e) for e in (sink, "x264enc", "voaacenc", "flvmux")):
        pytest.skip(f"GStreamer {sink}/x264enc/voaacenc not installed (.ci/run installs them)")
    write, _ = live_stack.server.account_keys()
    live = live_stack.create_live(write)
    refused = gst_publish(sink, live_stack.rtmp_url("1_" + "0" * 32))
    assert refused.returncode != 0 and "erroneous pipeline" not in refused.stderr
    published = gst_publish(sink, live_stack.rtmp_url(live["streamKey"]))
    assert published.returncode == 0, published.stderr[-500:]
    playlist_path = live_dir(live_stack, live["mediaId"]) / "source" / "index.m3u8"
    playlist = eventually(
        lambda: playlist_path.exists() and (p := m3u8.load(str(playlist_path))).is_endlist and p
    )
    assert sum(s.duration for s in playlist.segments) == pytest.approx(5, abs=1.5)
    with av.open(str(playlist_path)) as container:
        assert container.streams.audio, "the AAC track made it through"
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 120
