"""What signed playback costs: the same files served for a public and a signed item by one `vsrc api`,
measured interleaved in one run (ratios, the machine is shared), plus the in-process cost of the checks.

    .venv/bin/python -m bench.signed [--seconds 5] [--concurrency 4] [--reps 2]
"""

from __future__ import annotations

import argparse
import tempfile
import timeit
from pathlib import Path

import httpx

from bench.common import (
    cached_ffmpeg,
    create_key,
    loadavg,
    machine,
    md_table,
    median,
    vsrc_api,
    vsrc_cli,
    vsrc_env,
)
from bench.load import run_load

SEGMENT_BYTES = 486_000  # a 2 s 720p segment, as in docs/benchmarks.md
VARIANT_LINES = 150  # a 10-minute rung at 4 s segments


def _lay_out(storage: Path, media_id: str) -> None:
    hls = storage / "hls" / media_id / "720p"
    hls.mkdir(parents=True)
    (hls.parent / "master.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2800000\n720p/index.m3u8\n")
    segments = "".join(f"#EXTINF:4.000,\nseg_{i:05d}.ts\n" for i in range(VARIANT_LINES))
    (hls / "index.m3u8").write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n{segments}#EXT-X-ENDLIST\n")
    (hls / "seg_00000.ts").write_bytes(b"\x47" * SEGMENT_BYTES)


def _in_process(data_dir: Path, signed_id: str, public_id: str, token: str) -> list[list[object]]:
    """Microseconds per call of the checks themselves (no HTTP), on the benchmark's own database."""
    from vsrc.config import Settings
    from vsrc.media.tokenized import tokenize_playlist
    from vsrc.runtime import Runtime
    from vsrc.services.playback import file_key
    from vsrc.services.tokens import PlaybackGuard, TokenVerifier

    runtime = Runtime(Settings(data_dir=data_dir))
    guard = PlaybackGuard(runtime.sessions, runtime.storage, TokenVerifier(runtime.sessions, ttl=10))
    playlist = (data_dir / "storage" / "hls" / signed_id / "720p" / "index.m3u8").read_text()
    owner = guard._owner(signed_id)  # the item's account, as delivery looks it up (cached)
    verifier = guard.verifier
    cases = {
        "public item: marker existence check": lambda: guard.check_delivery(
            public_id, audience="v", token=None
        ),
        "signed item, token seen before: marker + cached check": lambda: guard.check_delivery(
            signed_id, audience="v", token=token
        ),
        "signed item, token seen before: check from memory (delivery's event-loop path)": lambda: (
            guard.verify_signed_cached(signed_id, audience="v", token=token)
        ),
        "signed item, token first seen: PyJWT RS256 verification": lambda: verifier._verify_fully(
            token, media_id=signed_id, account_id=owner, audience="v", key_of=verifier._key
        ),
        f"rewrite a {VARIANT_LINES}-segment variant playlist": lambda: tokenize_playlist(playlist, token),
        "public file key check + storage lookup": lambda: runtime.storage.local_file(
            file_key(area="hls", public_id=public_id, path="720p/seg_00000.ts")
        ),
    }
    rows: list[list[object]] = []
    for name, call in cases.items():
        call()  # warm the caches
        number = 2000
        best = min(timeit.repeat(call, number=number, repeat=3)) / number
        rows.append([name, f"{best * 1e6:.1f} µs"])
    runtime.close()
    return rows


def _asgi(data_dir: Path, ids: dict[str, str], token: str, paths: dict[str, str]) -> list[list[object]]:
    """Microseconds per request of the delivery layer itself (its ASGI call, no socket, no HTTP parser),
    public vs signed, caches warm: what a signed request costs more, without the machine's noise."""
    import asyncio
    import time

    from starlette.types import Message

    from vsrc.api.app import create_app
    from vsrc.api.delivery import DeliveryMiddleware
    from vsrc.config import Settings
    from vsrc.runtime import Runtime

    runtime = Runtime(Settings(data_dir=data_dir))
    delivery = DeliveryMiddleware(create_app(runtime), state=create_app(runtime).state.vsrc)

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message

    async def timed(scope: dict[str, object], n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            await delivery(dict(scope), receive, send)
        return (time.perf_counter() - start) / n

    async def measure() -> list[list[object]]:
        rows: list[list[object]] = []
        for name, template in paths.items():
            scopes = {
                policy: {
                    "type": "http",
                    "method": "GET",
                    "path": template.format(id=ids[policy]),
                    "query_string": f"token={token}".encode() if policy == "signed" else b"",
                    "headers": [],
                }
                for policy in ("public", "signed")
            }
            best = {policy: float("inf") for policy in scopes}
            for scope in scopes.values():  # warm every cache, the token's check, the cuts
                await timed(scope, 50)
            for _ in range(20):  # interleaved, the best of each: the machine's noise only adds
                for policy, scope in scopes.items():
                    best[policy] = min(best[policy], await timed(scope, 200))
            public, signed = best["public"], best["signed"]
            rows.append([name, f"{public * 1e6:.1f} µs", f"{signed * 1e6:.1f} µs", f"{public / signed:.2f}"])
        return rows

    try:
        return asyncio.run(measure())
    finally:
        runtime.close()


PATHS = {
    "segment (486 KB)": "/hls/{id}/720p/seg_00000.ts",
    "variant playlist (150 segments)": "/hls/{id}/720p/index.m3u8",
    "master playlist": "/hls/{id}/master.m3u8",
    "resolve": "/hls/resolve/{id}",
}


def _http(url: str, key: str, clip: Path, data_dir: Path, args: argparse.Namespace) -> tuple[list, str, dict]:
    """A public and a signed item with the same files; req/s of each request kind, interleaved."""
    from vsrc.services.tokens import load_private_key, sign_token

    ids: dict[str, str] = {}
    with httpx.Client(base_url=url, timeout=60) as client:
        auth = {"Authorization": f"Bearer {key}"}
        for policy in ("public", "signed"):
            resp = client.post(
                "/api/v1/media/upload",
                headers=auth,
                files={"file": ("clip.mp4", clip.read_bytes())},
                data={"title": policy, "playbackPolicy": policy},
            )
            resp.raise_for_status()
            ids[policy] = resp.json()["data"]["mediaId"]
            _lay_out(data_dir / "storage", ids[policy])
        pem = client.post("/api/v1/signing-keys", headers=auth).json()["data"]["privateKey"]
        token = sign_token(load_private_key(pem)[0], media_id=ids["signed"], expires_in=3600)
        rows = []
        for name, template in PATHS.items():
            rps: dict[str, list[float]] = {"public": [], "signed": []}
            for _ in range(args.reps):
                for policy in ("public", "signed"):
                    path = template.format(id=ids[policy])
                    if policy == "signed":
                        path += f"?token={token}"
                    assert client.get(path).status_code == 200, path
                    result = run_load(
                        url, [path], headers={}, concurrency=args.concurrency, seconds=args.seconds
                    )
                    assert result.errors == 0, (path, result.errors)
                    rps[policy].append(result.rps)
            public, signed = median(rps["public"]), median(rps["signed"])
            rows.append([name, f"{public:.0f}", f"{signed:.0f}", f"{signed / public:.2f}"])
    return rows, token, ids


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vsrc-bench-signed-") as tmp:
        data_dir = Path(tmp) / "data"
        env = vsrc_env(data_dir)
        vsrc_cli(["migrate"], env)
        key = create_key(env)
        clip = cached_ffmpeg(
            Path(tmp) / "clip.mp4",
            ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15:duration=1", "-c:v", "libx264"],
            timeout=60,
        )
        api = vsrc_api(env).start(timeout=180)  # a loaded box starts slowly
        try:
            rows, token, ids = _http(api.url, key, clip, data_dir, args)
        finally:
            api.stop()
        print(f"machine: {machine()}; load average at the end {loadavg():.1f}")
        print(f"HTTP, c={args.concurrency}, {args.seconds:g} s x {args.reps} interleaved, median req/s:\n")
        print(md_table(["request", "public req/s", "signed req/s", "signed / public"], rows))
        print("\nDelivery's ASGI call in process, caches warm (best of 20 interleaved x 200 requests):\n")
        header = ["request", "public per request", "signed per request", "signed speed / public"]
        print(md_table(header, _asgi(data_dir, ids, token, PATHS)))
        print("\nIn process (best of 3 x 2000 calls):\n")
        print(md_table(["check", "per call"], _in_process(data_dir, ids["signed"], ids["public"], token)))


if __name__ == "__main__":
    main()
