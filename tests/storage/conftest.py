"""The S3 server fixtures live in tests/s3.py (a plugin of every test); storage tests always set the
AWS environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.storage.backends import Backend, local_backend, s3_backend


@pytest.fixture(autouse=True)
def _aws(aws_env: None) -> None:
    """Every storage test sees only the test credentials (and none of the machine's AWS set-up)."""


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        yield local_backend(tmp_path)
    else:
        endpoint, bucket = request.getfixturevalue("s3_endpoint"), request.getfixturevalue("bucket")
        yield s3_backend(endpoint, bucket, tmp_path / "scratch")
