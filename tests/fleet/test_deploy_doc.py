"""docs/deploy.md's systemd unit is valid as written: ``systemd-analyze verify`` accepts it for each
of the three roles with no warning (an unknown key or a bad value is a warning there)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
ROLES = {"vsrc-api": "api", "vsrc-worker": "worker", "vsrc-ingest": "ingest --server-id 2"}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("unit", sorted(ROLES))
def test_the_documented_unit_verifies(unit: str, tmp_path: Path) -> None:
    block = re.search(r"```ini\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None, "docs/deploy.md has no unit file"
    text = block.group(1)
    assert "ExecStart=/opt/vsrc/.venv/bin/vsrc api" in text
    # The documented install path does not exist here: point at this checkout's entry point.
    vsrc = Path(sys.executable).with_name("vsrc")
    text = text.replace("ExecStart=/opt/vsrc/.venv/bin/vsrc api", f"ExecStart={vsrc} {ROLES[unit]}")
    path = tmp_path / f"{unit}.service"
    path.write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
