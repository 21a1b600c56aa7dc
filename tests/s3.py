"""A real S3 protocol server (moto's ThreadedMotoServer on loopback) for any test that needs one.

``s3_endpoint`` starts one server per test process; ``bucket`` makes a fresh bucket on it and points
the AWS credential chain at test credentials; ``storage_url`` parametrises a test over both backends
(``file`` and ``s3``) and gives the ``VSRC_STORAGE_URL`` to use (``None``: the default local folder).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.conftest import free_port

# moto accepts any key pair unless IAM checks are on (see tests/storage/test_startup.py).
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "vsrc-test", "AWS_SECRET_ACCESS_KEY": "vsrc-test-secret"}
REGION = "us-east-1"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def set_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The AWS chain sees only what a test sets: no ~/.aws of the machine, no proxy. Child processes
    (``vsrc worker``, ``vsrc ingest``) inherit these variables from ``os.environ``."""
    empty = tmp_path_factory.mktemp("aws")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    set_aws_env(monkeypatch, tmp_path_factory)


@pytest.fixture(scope="module")
def module_s3_url(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A bucket for a whole module's servers (module-scoped stacks); the AWS environment stays set
    for the module."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        set_aws_env(monkeypatch, tmp_path_factory)
        name = f"vsrc-{uuid.uuid4().hex[:12]}"
        s3_client(s3_endpoint).create_bucket(Bucket=name)
        yield s3_url(name, s3_endpoint)


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def bucket(s3_endpoint: str, aws_env: None) -> str:
    name = f"vsrc-{uuid.uuid4().hex[:12]}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name


def s3_url(bucket: str, endpoint: str, prefix: str = "") -> str:
    path = f"/{prefix}" if prefix else ""
    return f"s3://{bucket}{path}?endpoint={endpoint}&region={REGION}"


def bucket_keys(endpoint: str, bucket: str, prefix: str = "") -> list[str]:
    """Every object key in ``bucket`` (under ``prefix``), sorted."""
    pages = s3_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def incomplete_uploads(endpoint: str, bucket: str) -> list[str]:
    """Keys of multipart uploads started and neither completed nor aborted."""
    found = s3_client(endpoint).list_multipart_uploads(Bucket=bucket)
    return sorted(upload["Key"] for upload in found.get("Uploads", []))


@pytest.fixture(params=["file", "s3"])
def storage_url(request: pytest.FixtureRequest) -> str | None:
    """Run the test once on local storage (``None``: the default) and once on a fresh S3 bucket."""
    if request.param == "file":
        return None
    endpoint = request.getfixturevalue("s3_endpoint")
    return s3_url(request.getfixturevalue("bucket"), endpoint)
