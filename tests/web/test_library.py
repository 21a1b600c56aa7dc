"""The library page over HTTP: the account's media, tag search any/all, status filter, isolation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, start_server, stop_server, upload_file
from tests.web.conftest import sign_up


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("web-library"), open_signup=True)
    yield srv
    stop_server(srv)


def test_library_lists_filters_and_isolates(open_server: Server, clips: dict[str, Path]) -> None:
    client, email = sign_up(open_server)
    key = open_server.key("write", account=email)
    red = upload_file(open_server, key, clips["mp4"], title="Red <one>", tags="red,shared")
    blue = upload_file(open_server, key, clips["mp4"], title="Blue one", tags="blue,shared")

    page = client.get("/").text
    assert red in page and blue in page and "Red &lt;one&gt;" in page  # escaped
    assert 'data-status="pending"' in page and f'hx-get="/media/{red}/card"' in page

    only_red = client.get("/", params={"tags": "RED"}).text
    assert red in only_red and blue not in only_red
    both = client.get("/", params={"tags": "red,blue", "match": "any"}).text
    assert red in both and blue in both
    neither = client.get("/", params={"tags": "red,blue", "match": "all"}).text
    assert red not in neither and blue not in neither
    all_shared = client.get("/", params={"tags": "red,shared", "match": "all"}).text
    assert red in all_shared and blue not in all_shared
    assert red not in client.get("/", params={"status": "completed"}).text
    assert red in client.get("/", params={"status": "pending", "tags": "shared"}).text
    bad = client.get("/", params={"status": "bogus"})
    assert bad.status_code == 400 and "must be one of" in bad.text

    card = client.get(f"/media/{red}/card")
    assert card.status_code == 200 and card.text.lstrip().startswith("<li")

    other, _ = sign_up(open_server)
    theirs = other.get("/").text
    assert red not in theirs and blue not in theirs and "No videos yet" in theirs
    denied = other.get(f"/media/{red}/card")
    assert denied.status_code == 404 and "text/html" in denied.headers["content-type"]


def test_library_pages(open_server: Server, clips: dict[str, Path]) -> None:
    client, email = sign_up(open_server)
    key = open_server.key("write", account=email)
    ids = [upload_file(open_server, key, clips["mp4"], title=f"clip {i}") for i in range(26)]
    first = client.get("/").text
    assert "Page 1 of 2" in first and ids[-1] in first and ids[0] not in first
    second = client.get("/", params={"page": 2}).text
    assert ids[0] in second and ids[1] in second and ids[-1] not in second and 'rel="prev"' in second
    assert client.get("/", params={"page": 0}).status_code == 400
