"""Baselines run straight from the command builders: the bare platform command, one ffmpeg per rung."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.encode.source import has_segment
from vsrc.media.commands import build_hls_command
from vsrc.media.ladder import PlannedRung, Profile
from vsrc.media.probe import SourceInfo


@dataclass(frozen=True)
class Timed:
    """Wall seconds and CPU seconds (user + system of the ffmpeg children) of one run."""

    wall: float
    cpu: float
    load: float = 0.0  # 1-minute load average at the end
    first_playable: float | None = None  # start -> every watched playlist lists a segment


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ffmpeg(argv: list[str], playlists: list[Path] | None = None) -> Timed:
    """Run one ffmpeg command to completion (progress on stdout discarded); raise on failure.
    ``playlists`` are polled every 50 ms for the first moment all of them list a segment."""
    cpu0, t0 = _children_cpu(), time.monotonic()
    playable = None
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        while proc.poll() is None:
            if playlists and playable is None and all(has_segment(p) for p in playlists):
                playable = time.monotonic() - t0
            time.sleep(0.05)
        wall, cpu = time.monotonic() - t0, _children_cpu() - cpu0
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"ffmpeg exited with {proc.returncode}: {tail}")
    return Timed(wall, cpu, os.getloadavg()[0], playable)


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def bare_command(
    ffmpeg: str, source: Path, info: SourceInfo, rungs: list[PlannedRung], profile: Profile, out: Path
) -> list[str]:
    """Exactly the argv the worker runs for this source (one ffmpeg, ``split`` to every rung)."""
    return build_hls_command(
        ffmpeg=ffmpeg, source=source, info=info, rungs=rungs, profile=profile, out_dir=out
    )


def run_bare(
    ffmpeg: str, source: Path, info: SourceInfo, rungs: list[PlannedRung], profile: Profile, out: Path
) -> Timed:
    """(c) The platform's single ffmpeg command, run directly (first playable measured too)."""
    playlists = [out / r.name / "index.m3u8" for r in rungs]
    return run_ffmpeg(bare_command(ffmpeg, source, info, rungs, profile, _fresh(out)), playlists)


def run_naive(
    ffmpeg: str, source: Path, info: SourceInfo, rungs: list[PlannedRung], profile: Profile, out: Path
) -> tuple[Timed, list[Timed]]:
    """(b) One ffmpeg per rung, one after another. Each is ``build_hls_command`` with that single
    rung, so scale, bit rates, preset, GOP/IDR grid and HLS settings are the platform's; only the
    decode (and the ``split``) is repeated per rung."""
    per_rung = []
    for rung in rungs:
        folder = _fresh(out / rung.name)
        per_rung.append(run_ffmpeg(bare_command(ffmpeg, source, info, [rung], profile, folder)))
    total = Timed(sum(t.wall for t in per_rung), sum(t.cpu for t in per_rung), per_rung[-1].load)
    return total, per_rung
