"""S3 for the benchmarks: moto's ThreadedMotoServer (a real S3 protocol server, in-memory, in Python)
on loopback in the bench process, and a VSRC API process that stores into it.

moto keeps every object in the bench process's memory and answers from Python: numbers against it
are a lower bound of what MinIO or AWS would give (docs/benchmarks.md)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from moto.server import ThreadedMotoServer

from bench.common import ServerProcess, free_port

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "vsrc-bench", "AWS_SECRET_ACCESS_KEY": "vsrc-bench-secret"}
REGION = "us-east-1"


@contextmanager
def moto_bucket() -> Iterator[tuple[str, dict[str, str]]]:
    """A fresh bucket on a moto server; yields its ``VSRC_STORAGE_URL`` and the AWS environment a
    process needs to use it."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**CREDENTIALS, "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true", "NO_PROXY": "127.0.0.1"}
    try:
        bucket = f"vsrc-bench-{uuid.uuid4().hex[:8]}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        client.create_bucket(Bucket=bucket)
        yield f"s3://{bucket}?endpoint={endpoint}&region={REGION}", env
    finally:
        server.stop()


def vsrc_api_factory(env: dict[str, str]) -> ServerProcess:
    """The app `vsrc api` serves, started through uvicorn's factory: the `vsrc api` command still
    refuses s3:// storage until every media path is wired to it."""
    port = free_port()
    # The same uvicorn.run call as `vsrc api` (its guarded HTTP protocol included).
    code = (
        "import uvicorn; from vsrc.api.server import PROTOCOL; "
        f"uvicorn.run('vsrc.api.app:app_from_env', factory=True, host='127.0.0.1', port={port}, "
        "log_level='warning', http=PROTOCOL, proxy_headers=False)"
    )
    return ServerProcess([sys.executable, "-c", code], {**os.environ, **env}, port)
