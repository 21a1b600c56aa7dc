"""Reading HLS playlists (with the ``m3u8`` library): required master attributes, measured bit rates."""

from __future__ import annotations

from pathlib import Path

from vsrc.media.playlists import measure_playlist, missing_master_attributes

COMPLETE = """#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2"
360p/index.m3u8
"""


def test_a_complete_master_lacks_nothing() -> None:
    assert missing_master_attributes(COMPLETE) == set()


def test_missing_attributes_are_named() -> None:
    text = COMPLETE.replace("AVERAGE-BANDWIDTH=800000,", "").replace(',CODECS="avc1.64001e,mp4a.40.2"', "")
    assert missing_master_attributes(text) == {"AVERAGE-BANDWIDTH", "CODECS"}
    assert missing_master_attributes("#EXTM3U\n") == {"EXT-X-STREAM-INF"}


def test_measure_playlist_from_segment_sizes(tmp_path: Path) -> None:
    (tmp_path / "seg_000.ts").write_bytes(b"x" * 4000)
    (tmp_path / "seg_001.ts").write_bytes(b"x" * 1000)
    (tmp_path / "seg_002.ts").write_bytes(b"x" * 100)
    playlist = tmp_path / "index.m3u8"
    playlist.write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
        "#EXTINF:2.000,\nseg_000.ts\n#EXTINF:2.000,\nseg_001.ts\n#EXTINF:0.500,\nseg_002.ts\n#EXT-X-ENDLIST\n"
    )
    # peak: 4000 B over 2 s (the 0.5 s tail is left out); average: 5100 B over 4.5 s.
    assert measure_playlist(playlist) == (16000, 9067)
    (tmp_path / "seg_001.ts").unlink()
    assert measure_playlist(playlist) is None
