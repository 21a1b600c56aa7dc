"""docs/deploy.md's nginx configuration, as written, in front of a real VSRC: a public and a signed item
play through it (resolve → master → variant → every segment), segments leave through nginx's
X-Accel-Redirect offload, and the internal location cannot be reached from outside."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from tests.api.test_delivery import signed_live
from tests.conftest import Server, free_port, start_server, stop_server, upload_file
from tests.helpers import eventually
from vsrc.media.commands import ffmpeg_exe

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx not installed (.ci/run installs it)")


def site_config(vsrc_port: int, port: int, storage_root: Path) -> str:
    """The ```nginx block of docs/deploy.md with this test's ports and storage folder."""
    match = re.search(r"```nginx\n(.*?)```", DEPLOY.read_text(), re.S)
    assert match, "docs/deploy.md has no nginx block"
    site = match.group(1)
    for old, new in (
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{vsrc_port};"),
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("alias /var/lib/vsrc/storage/;", f"alias {storage_root}/;"),
    ):
        assert old in site, f"docs/deploy.md's nginx block changed: {old!r} is gone"
        site = site.replace(old, new)
    return site


@pytest.fixture
def front(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """VSRC as docs/deploy.md sets it up, and nginx in front of it; yields (server, nginx URL)."""
    port = free_port()
    server = start_server(
        tmp_path / "data",
        public_url=f"http://127.0.0.1:{port}",
        delivery_accel_prefix="/_vsrc_media",
        forwarded_allow_ips="127.0.0.1",
    )
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    vsrc_port = int(server.url.rsplit(":", 1)[1])
    site = site_config(vsrc_port, port, server.settings.storage_root)
    temp = "\n".join(
        f"{kind}_temp_path {prefix}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        f"daemon off;\nmaster_process off;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log info;\n"
        f"events {{ worker_connections 64; }}\nhttp {{\naccess_log off;\n{temp}\n{site}\n}}\n"
    )
    proc = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf")], stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: _answers(url), timeout=20, what="nginx listening")
        yield server, url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        stop_server(server)


def _answers(url: str) -> bool:
    try:
        httpx.get(url + "/health", timeout=2)
        return True
    except httpx.TransportError:
        return False


def encode_hls(folder: Path) -> None:
    """A real 4 s HLS rendition (1 s segments) and a master playlist naming it."""
    rung = folder / "360p"
    rung.mkdir(parents=True)
    subprocess.run(
        [
            ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=15:duration=4",
            "-c:v", "libx264", "-g", "15", "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
            "-hls_segment_filename", str(rung / "seg_%05d.ts"), str(rung / "index.m3u8"),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip
    (folder / "master.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000\n360p/index.m3u8\n")


def uris(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


def play(client: httpx.Client, master_url: str, folder: Path) -> int:
    """Fetch master → variant → every segment as a player would; each segment must be the stored bytes
    and leave through nginx's file offload (nginx's static module adds ETag; VSRC never does)."""
    master = client.get(master_url)
    assert master.status_code == 200, master.text
    assert master.headers["content-type"] == "application/vnd.apple.mpegurl"
    variant_url = urljoin(master_url, uris(master.text)[0])
    variant = client.get(variant_url)
    assert variant.status_code == 200 and "#EXT-X-ENDLIST" in variant.text
    segments = uris(variant.text)
    for name in segments:
        seg = client.get(urljoin(variant_url, name), headers={"Origin": "https://customer.example"})
        assert seg.status_code == 200
        assert seg.content == (folder / "360p" / name.split("?")[0]).read_bytes()
        assert seg.headers["content-type"] == "video/mp2t"
        assert "etag" in seg.headers and "x-accel-redirect" not in seg.headers
        assert seg.headers["access-control-allow-origin"] == "*"
    first = urljoin(variant_url, segments[0])
    part = client.get(first, headers={"Range": "bytes=0-187"})
    assert part.status_code == 206 and len(part.content) == 188 and part.content[0] == 0x47
    return len(segments)


def test_public_and_signed_items_play_through_nginx(
    front: tuple[Server, str], clips: dict[str, Path]
) -> None:
    server, url = front
    write = server.key()
    public_id = upload_file(server, write, clips["mp4"])  # no worker runs: the files below stay
    folder = server.settings.storage_root / "hls" / public_id
    encode_hls(folder)
    with httpx.Client(timeout=30) as client:
        resolved = client.get(f"{url}/hls/resolve/{public_id}").json()["ul"]
        assert resolved == f"{url}/hls/{public_id}/master.m3u8"
        assert play(client, resolved, folder) >= 3
        seg = f"{url}/hls/{public_id}/360p/seg_00000.ts"
        assert "immutable" in client.get(seg).headers["cache-control"]
        # The internal location is only for VSRC's redirects.
        assert client.get(f"{url}/_vsrc_media/hls/{public_id}/360p/seg_00000.ts").status_code == 404
        assert client.get(f"{url}/hls/{public_id}/360p/seg_00099.ts").status_code == 404

        live_id, token = signed_live(server)
        signed_folder = server.settings.storage_root / "hls" / live_id
        encode_hls(signed_folder)
        refused = client.get(f"{url}/hls/{live_id}/360p/seg_00000.ts")
        assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "token"
        resolved = client.get(f"{url}/hls/resolve/{live_id}", params={"token": token}).json()["ul"]
        assert play(client, resolved, signed_folder) >= 3
        private = client.get(f"{url}/hls/{live_id}/360p/seg_00000.ts", params={"token": token})
        assert private.headers["cache-control"].startswith("private")
