"""Fast-start lanes on real processes: a newcomer's first segment pauses the other encodes."""

from __future__ import annotations

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


def test_a_lane_whose_group_cannot_be_signalled_leaves_no_one_else_paused(
    procs: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An encode's process group id reused by another user's process answers EPERM (never seen as
    root, so the refusal is injected): the other paused encodes must be continued all the same."""
    import os

    lanes = Lanes(max_pause=300)
    gone, running, newcomer = lanes.open("gone"), lanes.open("running"), lanes.open("newcomer")
    for lane, proc in ((gone, procs[0]), (running, procs[2])):
        lane.attach(proc.pid)
        lane.playable()
    newcomer.attach(procs[1].pid)
    eventually(lambda: stopped(procs[0]) and stopped(procs[2]), timeout=10, what="both encodes paused")
    real_killpg = os.killpg

    def refuse(pgid: int, sig: int) -> None:
        if pgid == procs[0].pid:
            raise PermissionError(1, "Operation not permitted")
        real_killpg(pgid, sig)

    monkeypatch.setattr(os, "killpg", refuse)
    newcomer.close()
    eventually(lambda: not stopped(procs[2]), timeout=10, what="the other paused encode continued")
    assert lanes.paused_names() == []
