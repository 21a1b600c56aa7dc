"""Who may call the nginx-rtmp hooks, and what of their secret reaches the logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from tests.conftest import Server, start_server, stop_server
from tests.helpers import ApiProcess, eventually
from vsrc.config import Settings
from vsrc.redact import redact_query


@pytest.fixture(scope="module")
def only_127_0_0_2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """No hook secret; only 127.0.0.2 is an allowed caller (127.0.0.1 stands for the internet)."""
    srv = start_server(tmp_path_factory.mktemp("hooks"), hook_allow_networks="127.0.0.2/32")
    yield srv
    stop_server(srv)


def stream_key(server: Server) -> str:
    write, _ = server.account_keys()
    with server.client(write) as client:
        resp = client.post("/api/v1/live", json={"title": "Hooked"})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["data"]["streamKey"])


def call_hook(server: Server, event: str, key: str, source: str) -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=server.url, transport=transport, timeout=30) as client:
        return client.post(f"/hooks/rtmp/{event}", data={"name": key, "app": "live", "addr": "10.1.2.3"})


def test_without_a_secret_only_allowed_networks_may_call(only_127_0_0_2: Server) -> None:
    key = stream_key(only_127_0_0_2)
    for event in ("on_publish", "on_publish_done"):
        refused = call_hook(only_127_0_0_2, event, key, "127.0.0.1")
        assert refused.status_code == 403, refused.text
        body = refused.json()
        assert body["success"] is False and "VSRC_HOOK_SECRET" in body["message"]
    assert call_hook(only_127_0_0_2, "on_publish", key, "127.0.0.2").status_code == 200
    assert call_hook(only_127_0_0_2, "on_publish_done", key, "127.0.0.2").status_code == 200


def test_the_allow_list_is_validated() -> None:
    with pytest.raises(ValidationError, match="hook_allow_networks"):
        Settings(hook_allow_networks="127.0.0.0/8,not-a-network")
    assert [str(n) for n in Settings().hook_networks] == ["127.0.0.0/8", "::1/128"]


def test_redact_query() -> None:
    line = '127.0.0.1:5 - "POST /hooks/rtmp/on_publish?a=1&secret=s3&SECRET=x%20y&b=2 HTTP/1.1" 200'
    assert redact_query(line) == (
        '127.0.0.1:5 - "POST /hooks/rtmp/on_publish?a=1&secret=***&SECRET=***&b=2 HTTP/1.1" 200'
    )


@pytest.mark.slow  # a real `vsrc api` process
def test_the_hook_secret_never_reaches_the_access_log(tmp_path: Path) -> None:
    secret, wrong = "hunter2-hook-secret", "guessed-wrong-secret"
    api = ApiProcess(tmp_path, VSRC_HOOK_SECRET=secret, VSRC_LOG_LEVEL="INFO")  # INFO: access log on
    log = tmp_path / "api.log"
    try:
        form = {"name": "1_" + "0" * 32, "app": "live"}
        with httpx.Client(base_url=api.url, timeout=30) as client:
            assert client.post(f"/hooks/rtmp/on_publish?secret={secret}", data=form).status_code == 403
            assert client.post(f"/hooks/rtmp/on_publish?secret={wrong}", data=form).status_code == 401
        text = eventually(
            lambda: (t := log.read_text()).count("on_publish?secret=***") == 2 and t, timeout=20
        )
    finally:
        api.stop()
    assert secret not in text and wrong not in text
