"""VOD encoding benchmark (issue 3): platform end-to-end vs the bare ffmpeg command vs one ffmpeg per rung.

Run ``.venv/bin/python -m bench.encode [--quick]``; see ``bench/encode/README.md``.
"""
