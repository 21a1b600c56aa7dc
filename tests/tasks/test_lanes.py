"""Fast-start lanes on real processes: a newcomer's first segment pauses the other encodes."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import eventually
from vsrc.tasks.lanes import Lanes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def state(proc: subprocess.Popen[bytes]) -> str:
    """The kernel's process state letter: ``T`` when stopped."""
    return Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Stand-ins for ffmpeg: long sleepers, each the leader of its own process group."""
    made = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
        for _ in range(3)
    ]
    yield made
    for proc in made:
        proc.kill()
        proc.wait()


def stopped(proc: subprocess.Popen[bytes]) -> bool:
    return state(proc) == "T"


def test_newcomer_pauses_the_others_until_playable(procs: list[subprocess.Popen[bytes]]) -> None:
    old, new, third = procs
    lanes = Lanes(max_pause=300)
    a = lanes.open("old")
    a.attach(old.pid)
    assert not stopped(old)  # alone: nothing to pause
    a.playable()

    b = lanes.open("new")
    b.attach(new.pid)
    eventually(lambda: stopped(old), timeout=10, what="the running encode paused")
    assert not stopped(new) and lanes.paused_names() == ["old"]

    c = lanes.open("third")  # two newcomers at once: both run, the old one waits for both
    c.attach(third.pid)
    assert not stopped(new) and not stopped(third) and lanes.paused_names() == ["old"]
    b.playable()  # "new" is past its fast start while "third" is not: it waits too
    eventually(lambda: stopped(new), timeout=10, what="the playable newcomer paused")
    assert not stopped(third) and lanes.paused_names() == ["old", "new"]
    c.playable()
    eventually(lambda: not stopped(old) and not stopped(new), timeout=10, what="both continued")
    assert lanes.paused_names() == []

    # past fast start nobody is paused again by the others' progress
    b.playable()
    assert not any(stopped(p) for p in procs)


def test_pause_ends_when_the_newcomer_ends_or_takes_too_long(procs: list[subprocess.Popen[bytes]]) -> None:
    old, new, _ = procs
    lanes = Lanes(max_pause=300)
    with lanes.open("old") as a:
        a.attach(old.pid)
        a.playable()
        with lanes.open("new") as b:
            b.attach(new.pid)
            eventually(lambda: stopped(old), timeout=10, what="the running encode paused")
        # the newcomer failed before its first segment: the old one goes on
        eventually(lambda: not stopped(old), timeout=10, what="continued after the newcomer closed")

    slow = Lanes(max_pause=0.5)
    a = slow.open("old")
    a.attach(old.pid)
    a.playable()
    b = slow.open("stuck")
    b.attach(new.pid)
    eventually(lambda: not stopped(old) and slow.paused_names() == [], timeout=20, what="max_pause")
    a.close()
    b.close()


def test_closing_a_paused_lane_continues_it(procs: list[subprocess.Popen[bytes]]) -> None:
    old, new, _ = procs
    lanes = Lanes(max_pause=300)
    a = lanes.open("old")
    a.attach(old.pid)
    a.playable()
    b = lanes.open("new")
    b.attach(new.pid)
    eventually(lambda: stopped(old), timeout=10, what="the running encode paused")
    a.close()  # e.g. the media was deleted while paused: its ffmpeg must not stay stopped
    eventually(lambda: not stopped(old), timeout=10, what="the closed lane continued")
    b.close()


def test_a_paused_lane_whose_ffmpeg_ended_leaves_no_one_else_paused(
    procs: list[subprocess.Popen[bytes]],
) -> None:
    """A paused encode's ffmpeg is killed (and reaped) before its lane closes: continuing it fails,
    and the other paused encodes must be continued all the same."""
    lanes = Lanes(max_pause=300)
    gone, running, newcomer = lanes.open("gone"), lanes.open("running"), lanes.open("newcomer")
    for lane, proc in ((gone, procs[0]), (running, procs[2])):
        lane.attach(proc.pid)
        lane.playable()
    newcomer.attach(procs[1].pid)
    eventually(lambda: stopped(procs[0]) and stopped(procs[2]), timeout=10, what="both encodes paused")
    procs[0].kill()
    procs[0].wait()
    newcomer.close()
    eventually(lambda: not stopped(procs[2]), timeout=10, what="the other paused encode continued")
    assert lanes.paused_names() == []
    gone.close()
    running.close()


NEXT_PID = Path("/proc/sys/kernel/ns_last_pid")
ECHO = "import sys\nfor line in sys.stdin:\n    print(line.strip(), flush=True)"


def process_with_pid(pid: int) -> subprocess.Popen[str] | None:
    """A new process (leader of its own group, like ffmpeg) that got ``pid``, the pid of a process
    that exited: the kernel's last pid is set just below it (root). Processes forking meanwhile on a
    busy machine may take it first, so a few tries."""
    for _ in range(100):
        NEXT_PID.write_text(str(pid - 1))
        proc = subprocess.Popen(
            [sys.executable, "-c", ECHO],
            start_new_session=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if proc.pid == pid:
            return proc
        proc.kill()
        proc.wait()
    return None


def answers(proc: subprocess.Popen[str]) -> bool:
    """The process runs user code now: a stopped one (SIGSTOP pending or delivered) cannot echo."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("ping\n")
    proc.stdin.flush()
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    return bool(ready) and proc.stdout.readline().strip() == "ping"


@pytest.mark.skipif(not os.access(NEXT_PID, os.W_OK), reason="needs root to choose the next pid")
def test_a_lane_whose_ffmpeg_exited_never_signals_the_process_that_got_its_pid(
    procs: list[subprocess.Popen[bytes]],
) -> None:
    """An ffmpeg exits (and is reaped) before its encode closes its lane; its pid, which was its
    process group id, goes to an unrelated process. A newcomer's fast start pauses the running encodes
    and continues them after: the stranger is signalled neither time."""
    lanes = Lanes(max_pause=300)
    ended = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    stale = lanes.open("ended")
    stale.attach(ended.pid)
    stale.playable()
    running = lanes.open("running")
    running.attach(procs[0].pid)
    running.playable()
    ended.kill()
    ended.wait()
    stranger = process_with_pid(ended.pid)
    if stranger is None:
        pytest.skip("the machine forks too fast to hand the pid on")
    try:
        assert answers(stranger)
        newcomer = lanes.open("newcomer")
        newcomer.attach(procs[1].pid)
        eventually(lambda: stopped(procs[0]), timeout=10, what="the running encode paused")
        assert answers(stranger) and state(stranger) != "T"  # type: ignore[arg-type]
        newcomer.close()
        eventually(lambda: not stopped(procs[0]), timeout=10, what="the running encode continued")
        stale.close()
        running.close()
        assert answers(stranger) and lanes.paused_names() == []
    finally:
        stranger.kill()
        stranger.wait()
