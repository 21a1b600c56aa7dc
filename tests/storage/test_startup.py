"""Start-up with S3 storage through the real CLI: `vsrc doctor` names what is wrong, and every process
that reads or writes media stops at start (exit 2) naming a bucket it cannot use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.s3 import REGION

pytestmark = pytest.mark.slow


def vsrc(data_dir: Path, storage_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "VSRC_DATA_DIR": str(data_dir), "VSRC_STORAGE_URL": storage_url, **env}
    return subprocess.run(
        [sys.executable, "-m", "vsrc", *args], capture_output=True, text=True, env=full_env, timeout=120
    )


def storage_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stdout.splitlines() if "storage:" in line]
    assert len(lines) == 1, result.stdout + result.stderr
    return lines[0]


def url(bucket: str, endpoint: str, prefix: str = "vsrc") -> str:
    return f"s3://{bucket}/{prefix}?endpoint={endpoint}&region={REGION}"


def test_doctor_accepts_a_working_bucket(tmp_path: Path, s3_endpoint: str, bucket: str) -> None:
    result = vsrc(tmp_path, url(bucket, s3_endpoint), "doctor")
    line = storage_line(result)
    assert "ok" in line and "FAIL" not in line and f"s3://{bucket}/vsrc" in line, line


def test_doctor_names_an_unreachable_endpoint(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = vsrc(tmp_path, url("vsrc-media", endpoint), "doctor")
    assert result.returncode == 1
    line = storage_line(result)
    assert "FAIL" in line and f"cannot reach the S3 endpoint {endpoint}" in line, line


def test_doctor_names_a_missing_bucket(tmp_path: Path, s3_endpoint: str) -> None:
    result = vsrc(tmp_path, url("vsrc-no-such-bucket", s3_endpoint), "doctor")
    assert result.returncode == 1
    line = storage_line(result)
    assert "FAIL" in line and "bucket 'vsrc-no-such-bucket' does not exist" in line, line


def test_doctor_names_missing_credentials(tmp_path: Path, s3_endpoint: str, bucket: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    full_env = {**env, "VSRC_DATA_DIR": str(tmp_path), "VSRC_STORAGE_URL": url(bucket, s3_endpoint)}
    result = subprocess.run(
        [sys.executable, "-m", "vsrc", "doctor"], capture_output=True, text=True, env=full_env, timeout=120
    )
    line = storage_line(result)
    assert "FAIL" in line and "no AWS credentials found" in line, line


def test_bad_storage_url_stops_start_up(tmp_path: Path) -> None:
    result = vsrc(tmp_path, "s3://bucket-a?endpont=http://127.0.0.1:1", "doctor")
    assert result.returncode == 2
    said = " ".join(result.stderr.split())  # the console wraps long lines
    assert "VSRC_STORAGE_URL" in said and "unknown s3:// URL parameter 'endpont'" in said


def test_doctor_names_refused_credentials(
    tmp_path: Path, s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto checks signatures once IAM authentication is on: a real key, then a wrong secret."""
    import boto3
    from moto import settings as moto_settings

    iam = boto3.client("iam", endpoint_url=s3_endpoint, region_name=REGION)
    user = f"vsrc-{bucket}"
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="media",
        PolicyDocument='{"Version": "2012-10-17", "Statement": '
        '[{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}',
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # restored after the test
    good = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    accepted = vsrc(tmp_path, url(bucket, s3_endpoint), "doctor", **good)
    assert "FAIL" not in storage_line(accepted), storage_line(accepted)
    wrong = {**good, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    refused = vsrc(tmp_path, url(bucket, s3_endpoint), "doctor", **wrong)
    assert refused.returncode == 1
    line = storage_line(refused)
    assert "FAIL" in line and "refused the credentials" in line, line
    assert "not-the-secret" not in refused.stdout + refused.stderr


@pytest.mark.parametrize("command", ["worker", "ingest", "api", "serve"])
def test_media_processes_name_a_missing_bucket_at_start(
    tmp_path: Path, s3_endpoint: str, command: str
) -> None:
    bad = url("vsrc-no-such-bucket", s3_endpoint)
    result = vsrc(tmp_path, bad, command, VSRC_RTMP_PORT=str(free_port()), VSRC_HTTP_PORT=str(free_port()))
    assert result.returncode == 2, result.stdout + result.stderr
    said = " ".join(result.stderr.split())
    assert "VSRC_STORAGE_URL" in said and "vsrc-no-such-bucket" in said
