"""The dashboard's preview signer: one internal key per account, shared by every process and restart,
not listed to the customer and not counted against their key limit (see docs/architecture.md, Dashboard)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import jwt
from sqlalchemy import func, select

from tests.api.test_signed_playback import MASTER, lay_out
from tests.conftest import Server, upload_file
from vsrc.db.models import Account, SigningKey
from vsrc.db.session import transaction
from vsrc.services import signing_keys
from vsrc.web.preview_tokens import PreviewSigner


def account(server: Server) -> tuple[str, int]:
    """A fresh account: its write key and id."""
    email = f"{uuid.uuid4().hex[:10]}@test"
    write = server.key("write", email)
    with transaction(server.sessions) as session:
        account_id = session.scalar(select(Account.id).where(Account.email == email))
    assert account_id is not None
    return write, account_id


def key_count(server: Server, account_id: int) -> int:
    query = select(func.count()).select_from(SigningKey).where(SigningKey.account_id == account_id)
    with transaction(server.sessions) as session:
        return int(session.scalar(query) or 0)


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def test_two_processes_share_one_preview_key_and_the_api_does_not_list_it(server: Server) -> None:
    write, account_id = account(server)
    # Two signers = two API processes (or one before and one after a restart).
    first = PreviewSigner(server.sessions).token(account_id=account_id, media_id="vod_a")
    second = PreviewSigner(server.sessions).token(account_id=account_id, media_id="vod_b")
    assert kid_of(first) == kid_of(second)
    assert key_count(server, account_id) == 1
    with server.client(write) as client:
        listed = client.get("/api/v1/signing-keys")
        assert listed.status_code == 200 and listed.json()["data"] == []
        # Not listed, so the customer's delete cannot reach it either.
        gone = client.delete(f"/api/v1/signing-keys/{kid_of(first)}")
        assert gone.status_code == 404, gone.text
    assert PreviewSigner(server.sessions).token(account_id=account_id, media_id="vod_a")


def test_processes_starting_at_once_make_one_key(server: Server) -> None:
    _, account_id = account(server)
    barrier = threading.Barrier(4)
    kids: list[str] = []

    def preview() -> None:
        signer = PreviewSigner(server.sessions)
        barrier.wait(timeout=60)
        kids.append(kid_of(signer.token(account_id=account_id, media_id="vod_a")))

    threads = [threading.Thread(target=preview) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(kids) == 4 and len(set(kids)) == 1, kids
    assert key_count(server, account_id) == 1


def test_the_preview_key_does_not_count_against_the_customer_limit(server: Server) -> None:
    write, account_id = account(server)
    with transaction(server.sessions) as session:
        for _ in range(signing_keys.MAX_ACTIVE_KEYS - 1):
            signing_keys.create_key(session, account_id=account_id)
    signer = PreviewSigner(server.sessions)
    assert signer.token(account_id=account_id, media_id="vod_a")
    with server.client(write) as client:
        last = client.post("/api/v1/signing-keys")
        assert last.status_code == 201, last.text  # 99 customer keys + the preview key: room for one
        # 100 customer keys: previews still work (a fresh process too), the customer is at the limit.
        assert PreviewSigner(server.sessions).token(account_id=account_id, media_id="vod_a")
        over = client.post("/api/v1/signing-keys")
        assert over.status_code == 400 and over.json()["errors"][0]["field"] == "keyId", over.text
        listed = client.get("/api/v1/signing-keys").json()["data"]
    assert len(listed) == signing_keys.MAX_ACTIVE_KEYS
    assert kid_of(signer.token(account_id=account_id, media_id="x")) not in {k["keyId"] for k in listed}


def test_a_preview_token_plays_a_signed_item(server: Server, clips: dict[str, Path]) -> None:
    write, account_id = account(server)
    media_id = upload_file(server, write, clips["mp4"], playbackPolicy="signed")
    lay_out(server, media_id)
    token = PreviewSigner(server.sessions).token(account_id=account_id, media_id=media_id)
    with server.client() as client:
        master = client.get(f"/hls/{media_id}/master.m3u8", params={"token": token})
        assert master.status_code == 200, master.text
        assert master.text == MASTER.replace("360p/index.m3u8", f"360p/index.m3u8?token={token}")
        poster = client.get(f"/thumbnails/{media_id}/poster.jpg", params={"token": token})
        assert poster.status_code == 200, poster.text
