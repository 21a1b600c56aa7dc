"""run_encode with a scripted fake ffmpeg (fast, deterministic) and with the real one."""

from __future__ import annotations

import logging
import pickle
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.helpers import eventually
from vsrc.media.commands import build_hls_command, ffmpeg_exe, input_args
from vsrc.media.errors import EncodeError
from vsrc.media.ladder import Profile, Rung, ladder_for
from vsrc.media.probe import probe
from vsrc.media.runner import classify_failure, run_encode, source_lost

from .conftest import Clips

pytestmark = pytest.mark.slow


def fake(script: str) -> list[str]:
    """argv of a Python 'ffmpeg' running ``script`` (helpers: block(t, state), err(line))."""
    prelude = textwrap.dedent(
        """
        import os, signal, subprocess, sys, time
        def block(t, state="continue"):
            us = int(t * 1e6)
            sys.stdout.write(f"frame={int(t*30)}\\nout_time_us={us}\\nout_time_ms={us}\\n"
                             f"out_time=00:00:{t:09.6f}\\nspeed=1x\\nprogress={state}\\n")
            sys.stdout.flush()
        def err(line):
            sys.stderr.write(line + "\\n"); sys.stderr.flush()
        """
    )
    return [sys.executable, "-c", prelude + textwrap.dedent(script)]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def wait_dead(pid: int, seconds: float = 15.0) -> bool:
    eventually(lambda: not alive(pid), timeout=seconds, interval=0.02, what=f"process {pid} gone")
    return True


def test_progress_rises_and_ends_at_100() -> None:
    argv = fake(
        """
        for i in range(11):
            block(i * 0.5)
            time.sleep(0.01)
        block(5.0, "end")
        """
    )
    seen: list[int] = []
    run_encode(argv, duration=5.0, on_progress=seen.append, timeout=30)
    assert seen == [10, 20, 30, 40, 50, 60, 70, 80, 90, 99, 100]
    assert all(isinstance(p, int) for p in seen)


def test_100_only_after_success() -> None:
    argv = fake(
        """
        block(5.0)
        block(5.0, "end")
        err("Error writing trailer: No space left on device")
        sys.exit(1)
        """
    )
    seen: list[int] = []
    with pytest.raises(EncodeError) as exc_info:
        run_encode(argv, duration=5.0, on_progress=seen.append, timeout=30)
    assert seen == [99]
    err = exc_info.value
    assert not err.permanent
    assert "code 1" in str(err) and "No space left on device" in str(err)
    assert err.returncode == 1


def test_invalid_input_is_permanent(tmp_path: Path) -> None:
    argv = fake(
        """
        err("[in#0 @ 0x55d0c0a0] Error opening input: Invalid data found when processing input")
        err("Error opening input file /data/uploads/secret/vod_1234.mp4.")
        err("Error opening input files: Invalid data found when processing input")
        sys.exit(183)
        """
    )
    log = tmp_path / "ffmpeg.log"
    with pytest.raises(EncodeError) as exc_info:
        run_encode(argv, duration=5.0, on_progress=None, timeout=30, stderr_log_path=log)
    err = exc_info.value
    assert err.permanent
    assert "could not be decoded" in str(err)
    assert "/data/uploads" not in str(err)
    assert "Invalid data found" in err.stderr_tail
    assert "Invalid data found" in log.read_text()


def test_moov_atom_not_found_is_permanent() -> None:
    message, permanent = classify_failure(1, "[mov,mp4 @ 0x1] moov atom not found\nx.mp4: Invalid data")
    assert permanent and "corrupt" in message


def test_killed_by_signal_is_retryable() -> None:
    argv = fake(
        """
        block(1.0)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    with pytest.raises(EncodeError) as exc_info:
        run_encode(argv, duration=5.0, on_progress=None, timeout=30)
    assert not exc_info.value.permanent
    assert exc_info.value.returncode == -9
    assert "SIGKILL" in str(exc_info.value)


def test_timeout_kills_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    argv = fake(
        f"""
        child = subprocess.Popen(["sleep", "30"])
        open({str(pidfile)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
        block(0.1)
        time.sleep(30)
        """
    )
    with pytest.raises(EncodeError) as exc_info:
        run_encode(argv, duration=5.0, on_progress=None, timeout=1.0)
    assert not exc_info.value.permanent
    assert "timeout" in str(exc_info.value)
    for pid in map(int, pidfile.read_text().split()):
        assert wait_dead(pid), f"process {pid} survived"


def test_exception_in_callback_kills_process(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    argv = fake(
        f"""
        open({str(pidfile)!r}, "w").write(str(os.getpid()))
        for i in range(100):
            block(i * 0.1)
            time.sleep(0.05)
        """
    )

    def boom(pct: int) -> None:
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        run_encode(argv, duration=10.0, on_progress=boom, timeout=30)
    assert wait_dead(int(pidfile.read_text()))


def test_stderr_tail_and_logger(caplog: pytest.LogCaptureFixture) -> None:
    argv = fake(
        """
        for i in range(120):
            err(f"line {i}")
        sys.exit(2)
        """
    )
    logger = logging.getLogger("test.ffmpeg")
    with caplog.at_level(logging.DEBUG, logger="test.ffmpeg"), pytest.raises(EncodeError) as exc_info:
        run_encode(argv, duration=1.0, on_progress=None, timeout=30, logger=logger)
    lines = exc_info.value.stderr_tail.splitlines()
    assert len(lines) == 50 and lines[0] == "line 70" and lines[-1] == "line 119"
    assert "line 119" in str(exc_info.value)
    assert any("line 0" in r.getMessage() for r in caplog.records)


def test_encode_error_pickles() -> None:
    err = EncodeError("boom", permanent=True, stderr_tail="tail", returncode=1)
    copy = pickle.loads(pickle.dumps(err))
    assert (str(copy), copy.permanent, copy.stderr_tail, copy.returncode) == ("boom", True, "tail", 1)


def test_real_ffmpeg_corrupt_input_is_permanent(media_clips: Clips, tmp_path: Path) -> None:
    info = probe(media_clips.landscape)  # plan as if it were fine, then feed the broken copy
    profile = Profile(rungs=(Rung("144p", 144, 100_000),), preset="ultrafast", segment_seconds=2)
    argv = build_hls_command(
        ffmpeg=media_clips.ffmpeg,
        source=media_clips.truncated,
        info=info,
        rungs=ladder_for(info, profile),
        profile=profile,
        out_dir=tmp_path / "out",
    )
    seen: list[int] = []
    with pytest.raises(EncodeError) as exc_info:
        run_encode(argv, duration=info.duration, on_progress=seen.append, timeout=60)
    err = exc_info.value
    assert err.permanent
    assert (
        str(err)
        == "The source video could not be decoded: the file is corrupt, truncated or not a supported video."
    )
    assert "moov atom not found" in err.stderr_tail or "Invalid data" in err.stderr_tail
    assert 100 not in seen


def test_an_unreachable_source_url_is_retryable_and_its_signature_stays_out() -> None:
    """A presigned source URL whose server refuses: a retry may succeed (not "corrupt"), and the
    URL's query string (a credential) appears neither in the message nor in the kept stderr."""
    url = f"http://127.0.0.1:{free_port()}/bucket/media/x/original.mp4?X-Amz-Signature=s3cr3t"
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", *input_args(url), "-f", "null", "-"]
    with pytest.raises(EncodeError) as exc_info:
        run_encode(argv, duration=5.0, on_progress=None, timeout=120)
    err = exc_info.value
    assert not err.permanent
    assert "could not be read" in err.message and "refused" in err.message.lower()
    assert "s3cr3t" not in err.message and "s3cr3t" not in err.stderr_tail


# What ffmpeg 8/9 writes (at -loglevel warning) when the connection to a source URL drops midway.
_DROPPED = (
    "[http @ 0x1] Stream ends prematurely at 999435, should be 3912026\n"
    "[http @ 0x1] Will reconnect at 999435 in 0 second(s), error=Input/output error.\n"
)


@pytest.mark.parametrize(
    ("stderr", "lost"),
    [
        (_DROPPED, False),  # reconnected where it stopped: nothing lost
        (_DROPPED + "[h264 @ 0x2] Invalid NAL unit size (17046 > 7675).\n", False),
        (_DROPPED + "[http @ 0x1] HTTP error 404 NOT FOUND\n[in#0 @ 0x3] Packet corrupt\n", True),
        (
            _DROPPED
            + "[tcp @ 0x4] Connection to tcp://127.0.0.1:9 failed: Connection refused\n"
            + "[http @ 0x1] Will reconnect at 999435 in 1 second(s), error=Connection refused.\n"
            + "[tcp @ 0x4] Connection to tcp://127.0.0.1:9 failed: Connection refused\n",
            True,  # the last attempt failed, then ffmpeg gave up silently
        ),
        (
            _DROPPED
            + "[tcp @ 0x4] Connection to tcp://127.0.0.1:9 failed: Connection refused\n"
            + "[http @ 0x1] Will reconnect at 999435 in 1 second(s), error=Connection refused.\n",
            False,  # the second attempt worked
        ),
    ],
)
def test_a_source_url_read_short_is_noticed_although_ffmpeg_exits_0(stderr: str, lost: bool) -> None:
    assert (source_lost(stderr) is not None) == lost
