"""Live ingest benchmark (issue 4): CPU of our Python RTMP ingest per passthrough stream, stream
capacity and glass-to-playlist latency, against ffmpeg's own RTMP listener doing the same remux.

Run ``.venv/bin/python -m bench.live [--quick]``; see ``bench/live/README.md``.
"""
