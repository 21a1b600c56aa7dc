"""The shared test helpers clean up after themselves, also when they fail."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import ClassVar

import pytest

from tests.helpers import ApiProcess


class NeverReady(ApiProcess):
    """A real ``vsrc api`` whose readiness probe never succeeds: start-up times out."""

    started: ClassVar[list[subprocess.Popen[bytes]]] = []

    def _up(self) -> bool:
        NeverReady.started.append(self.proc)
        return False


def test_api_process_that_never_comes_up_is_killed_and_reaped(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="answers /health"):
        NeverReady(tmp_path, startup_timeout=3)
    proc = NeverReady.started[-1]
    # Reaped (a return code, no zombie left) and its log closed: nothing outlives the failed start.
    assert proc.returncode is not None
    assert not Path(f"/proc/{proc.pid}").exists()
