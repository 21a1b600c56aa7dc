"""The OpenAPI document matches what the server does: schemathesis (every check, every phase) against a
real server, on every operation the document lists, so new routes are covered as they are added.

The run is bounded (``MAX_EXAMPLES`` per operation and phase) and seeded, so a failure reproduces; its
report names the operation, the check and a ``curl`` line. The same command by hand, against a running
server: ``schemathesis --config-file tests/api/schemathesis.toml run http://HOST:PORT/openapi.json
--checks all --phases examples,coverage,fuzzing,stateful --max-examples 8 --seed 20261129 --workers 1
--generation-deterministic --request-timeout 60 --header "Authorization: Bearer KEY"``: 0 failures.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server
from tests.helpers import raw_get

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 8
SEED = 20261129
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# The few refusals no schema can state (a file that is no video, a host that does not resolve,
# uniqueness across items, relations between parameters), each per operation with its reason.
CONFIG = Path(__file__).with_name("schemathesis.toml")


def schemathesis_argv(server: Server, key: str, report: Path) -> list[str]:
    return [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--generation-deterministic",
        "--request-timeout",
        "60",
        "--no-color",
        "--header",
        f"Authorization: Bearer {key}",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]


@pytest.mark.timeout(900)  # some 10,000 requests: minutes on a loaded machine
def test_schemathesis_finds_no_failure(server: Server, tmp_path: Path) -> None:
    write, _ = server.account_keys()
    # Built on the first request and kept: seconds on a loaded machine, past schemathesis's 10 s read.
    assert httpx.get(f"{server.url}/openapi.json", timeout=120).status_code == 200
    argv = schemathesis_argv(server, write, tmp_path / "junit.xml")
    env = {**os.environ, "SCHEMATHESIS_HOOKS": ""}
    run = subprocess.run(argv, capture_output=True, text=True, timeout=1200, env=env, cwd=tmp_path)
    assert run.returncode == 0, (
        f"{' '.join(argv[:3])} ... failed:\n{run.stdout[-15000:]}\n{run.stderr[-3000:]}"
    )


def test_a_method_the_path_lacks_is_405_with_the_whole_allow(server: Server) -> None:
    write, _ = server.account_keys()
    with server.client(write) as client:
        for method, path, allow in [
            ("DELETE", "/api/v1/media/search", "GET"),
            ("GET", "/api/v1/media/upload", "POST"),
            ("OPTIONS", "/api/v1/live", "GET, POST"),
            ("PUT", "/api/v1/media/vod_00000000-0000-4000-8000-000000000000", "DELETE, GET, PATCH"),
            ("POST", "/hls/vod_00000000-0000-4000-8000-000000000000/master.m3u8", "GET, HEAD"),
        ]:
            resp = client.request(method, path)
            assert resp.status_code == 405, (method, path, resp.text)
            assert resp.headers["Allow"] == allow, (method, path)
            assert resp.json()["success"] is False
        # A CORS preflight is still the CORS middleware's.
        preflight = client.options(
            "/api/v1/live", headers={"Origin": "https://a.example", "Access-Control-Request-Method": "POST"}
        )
        assert preflight.status_code == 200


def test_validation_errors_are_documented_as_400(server: Server) -> None:
    with server.client() as client:
        document = client.get("/openapi.json").json()
    statuses = {
        (method, path): set(operation["responses"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert not [op for op, codes in statuses.items() if "422" in codes]
    assert "400" in statuses[("get", "/api/v1/media/search")]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    hls = document["paths"]["/hls/{mediaId}/{path}"]["get"]["responses"]["200"]["content"]
    assert {"application/vnd.apple.mpegurl", "video/mp2t"} <= set(hls)
    status, _ = raw_get(server.url, "/openapi.json")
    assert status == 200
