"""The delivery cache on its own: which files count as final, the memory bound, TTL re-checks."""

from __future__ import annotations

from pathlib import Path

from vsrc.media.tokenized import tokenize_playlist, tokenize_vtt
from vsrc.services.delivery import Blob, DeliveryCache, is_final
from vsrc.storage import LocalStorage


def test_only_finished_playlists_are_final() -> None:
    assert is_final("hls/vod_x/360p/seg_00001.ts", b"")
    assert is_final("thumbnails/vod_x/poster.jpg", b"")
    assert not is_final("hls/vod_x/360p/index.m3u8", b"#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n")
    assert is_final("hls/vod_x/360p/index.m3u8", b"#EXTM3U\n#EXT-X-ENDLIST\n")
    assert is_final("hls/vod_x/master.m3u8", b"#EXTM3U\n")
    assert not is_final("hls/live_x/master.m3u8", b"#EXTM3U\n")  # a live master may be rewritten


def test_memory_is_bounded_and_final_files_are_rechecked_after_the_ttl(tmp_path: Path) -> None:
    now = [0.0]
    storage = LocalStorage(tmp_path)
    cache = DeliveryCache(storage, ttl=2, max_bytes=2500, clock=lambda: now[0])
    for n in range(3):
        storage.put_bytes(f"hls/vod_a/seg_{n}.ts", bytes([n]) * 1000)
        assert cache.file(f"hls/vod_a/seg_{n}.ts").body == bytes([n]) * 1000
    assert cache.fresh_file("hls/vod_a/seg_0.ts") is None  # the oldest was dropped to stay in 2500
    assert cache.fresh_file("hls/vod_a/seg_2.ts") is not None
    storage.put_bytes("hls/vod_a/seg_2.ts", b"replaced")
    assert cache.fresh_file("hls/vod_a/seg_2.ts") is not None  # trusted within the TTL
    now[0] = 2.0
    assert cache.fresh_file("hls/vod_a/seg_2.ts") is None  # then checked against storage again
    assert cache.file("hls/vod_a/seg_2.ts").body == b"replaced"
    cache.forget("vod_a")
    assert cache.fresh_file("hls/vod_a/seg_2.ts") is None


def test_a_signed_viewers_playlist_is_the_rewrite_filled_with_its_token() -> None:
    """Playlists and storyboards are cut once where the token goes; filling the cuts with a token gives
    exactly what media/tokenized.py's rewrite gives, whatever the token's characters."""
    master = (
        "#EXTM3U\n"
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",URI="audio/index.m3u8"\n'
        "#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n"
        "https://cdn.example/other.m3u8\n"
        "token=already-here.m3u8?token=x\n"
    )
    media = (
        '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:4,\nseg_1.m4s?x=1\n#EXTINF:4,\nseg_2.m4s\n#EXT-X-ENDLIST'
    )
    vtt = "WEBVTT\n\n00:00.000 --> 00:02.000\nstoryboard.jpg#xywh=0,0,160,90\n\nNOTE token=\n"
    tokens = ["aaa.bbb.ccc", "a b&c=d?e#f", "é/ü%20", ""]
    for key, text in (
        ("hls/vod_x/master.m3u8", master),
        ("hls/vod_x/360p/index.m3u8", media),
        ("thumbnails/vod_x/storyboard.vtt", vtt),
    ):
        blob = Blob(key, len(text), text.encode(), (), True, None)
        assert not blob.has_token_slots
        rewrite = tokenize_vtt if key.endswith(".vtt") else tokenize_playlist
        for token in tokens:
            assert blob.with_token(token) == rewrite(text, token).encode(), (key, token)
        assert blob.has_token_slots
