"""Tag search: `any` = OR, `all` = AND, newest first, paginated; checked against a brute-force oracle."""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Server
from vsrc.db.models import Account, Media
from vsrc.db.session import transaction
from vsrc.services.keys import create_key
from vsrc.services.tags import get_or_create_tags
from vsrc.timeutil import utcnow

TAGS = ["red", "Green", "blue", "cyan", "MAGENTA", "yellow"]

tag_sets = st.lists(st.sets(st.sampled_from(TAGS), max_size=4), min_size=0, max_size=12)
queries = st.lists(st.sampled_from([*TAGS, "red", "RED", "unknown"]), min_size=1, max_size=4)


def seed(server: Server, media_tags: list[set[str]]) -> tuple[str, list[tuple[str, set[str]]]]:
    """A fresh account holding one media item per tag set; returns a read key and (id, tags) newest first."""
    sessions = server.sessions
    email = f"{uuid.uuid4().hex[:10]}@search"
    created: list[tuple[str, set[str]]] = []
    with transaction(sessions) as session:
        key = create_key(session, name="s", permission="read", account_email=email).plaintext
        account = session.query(Account).filter_by(email=email).one()
        base = utcnow()
        for i, names in enumerate(media_tags):
            public_id = f"vod_{uuid.uuid4()}"
            media = Media(
                public_id=public_id,
                account_id=account.id,
                title=f"m{i}",
                file_size=1,
                mime_type="video/mp4",
                source_key="x",
                created_at=base + timedelta(seconds=i),
            )
            media.tags = get_or_create_tags(session, account_id=account.id, names=sorted(names))
            session.add(media)
            created.append((public_id, {n.lower() for n in names}))
    return key, created[::-1]


def oracle(items: list[tuple[str, set[str]]], query: list[str], match: str) -> list[str]:
    wanted = {q.lower() for q in query}
    test = (lambda tags: wanted <= tags) if match == "all" else (lambda tags: bool(wanted & tags))
    return [media_id for media_id, tags in items if test(tags)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    media_tags=tag_sets,
    query=queries,
    match=st.sampled_from(["any", "all"]),
    limit=st.integers(min_value=1, max_value=5),
)
def test_search_matches_brute_force(
    server: Server, media_tags: list[set[str]], query: list[str], match: str, limit: int
) -> None:
    key, items = seed(server, media_tags)
    expected = oracle(items, query, match)
    got: list[str] = []
    with server.client(key) as client:
        page = 1
        while True:
            resp = client.get(
                "/api/v1/media/search",
                params={"tags": ",".join(query), "match": match, "page": page, "limit": limit},
            )
            assert resp.status_code == 200, resp.text
            data = resp.json()["data"]
            assert data["pagination"]["total"] == len(expected)
            assert data["pagination"]["totalPages"] == -(-len(expected) // limit)
            got += [m["mediaId"] for m in data["media"]]
            if page >= data["pagination"]["totalPages"]:
                break
            page += 1
    assert got == expected


def test_search_validation(server: Server) -> None:
    _, read = server.account_keys()
    with server.client(read) as client:
        cases = [
            ({}, "tags"),
            ({"tags": " , ,"}, "tags"),
            ({"tags": "a", "match": "some"}, "match"),
            ({"tags": "a", "page": 0}, "page"),
            ({"tags": "a", "limit": 101}, "limit"),
            ({"tags": "a" * 501}, "tags"),
        ]
        for params, field in cases:
            resp = client.get("/api/v1/media/search", params=params)
            assert resp.status_code == 400, params
            assert resp.json()["errors"][0]["field"] == field
