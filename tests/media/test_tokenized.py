"""Token rewriting of playlists and storyboards: every relative URI, nothing absolute, nothing else."""

from __future__ import annotations

from vsrc.media.tokenized import tokenize_playlist, tokenize_vtt

TOKEN = "aaa.bbb.ccc"


def test_master_and_media_playlists() -> None:
    master = (
        "#EXTM3U\n"
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",URI="audio/index.m3u8"\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.42c01e,mp4a.40.2"\n'
        "720p/index.m3u8\n"
        '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI="720p/iframes.m3u8"\n'
        "https://cdn.example/other.m3u8\n"
        "//cdn.example/proto-relative.m3u8\n"
        "\n"
    )
    out = tokenize_playlist(master, TOKEN)
    assert out == (
        "#EXTM3U\n"
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",URI="audio/index.m3u8?token=aaa.bbb.ccc"\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.42c01e,mp4a.40.2"\n'
        "720p/index.m3u8?token=aaa.bbb.ccc\n"
        '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI="720p/iframes.m3u8?token=aaa.bbb.ccc"\n'
        "https://cdn.example/other.m3u8\n"
        "//cdn.example/proto-relative.m3u8\n"
        "\n"
    )
    media = '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:4.000,\nseg_1.m4s?x=1\n#EXT-X-ENDLIST\n'
    assert tokenize_playlist(media, "a b") == (
        '#EXTM3U\n#EXT-X-MAP:URI="init.mp4?token=a%20b"\n#EXTINF:4.000,\nseg_1.m4s?x=1&token=a%20b\n#EXT-X-ENDLIST\n'
    )


def test_storyboard_vtt_keeps_the_fragment() -> None:
    vtt = "WEBVTT\n\n00:00.000 --> 00:02.000\nstoryboard.jpg#xywh=0,0,160,90\n\nNOTE not a cue\n"
    assert tokenize_vtt(vtt, TOKEN) == (
        "WEBVTT\n\n00:00.000 --> 00:02.000\n"
        "storyboard.jpg?token=aaa.bbb.ccc#xywh=0,0,160,90\n\nNOTE not a cue\n"
    )
