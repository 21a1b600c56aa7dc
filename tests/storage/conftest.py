"""The S3 server fixtures live in tests/s3.py (a plugin of every test); storage tests always set the
AWS environment."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _aws(aws_env: None) -> None:
    """Every storage test sees only the test credentials (and none of the machine's AWS set-up)."""
