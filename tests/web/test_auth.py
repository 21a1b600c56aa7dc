"""Dashboard accounts: sign-up, sign-in, sessions, CSRF, the sign-in rate limit, `vsrc users create`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, start_server, stop_server
from tests.test_cli import vsrc
from tests.web.conftest import PASSWORD, browser, csrf_of, page_csrf, sign_in, sign_up


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("web-open"), open_signup=True)
    yield srv
    stop_server(srv)


def test_signup_is_open_only_until_the_first_user(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    try:
        client = browser(srv)
        assert client.get("/").headers["location"] == "/login?next=/"
        assert "Create an account" in client.get("/login").text
        first, _ = sign_up(srv)
        assert first.get("/").status_code == 200
        closed = browser(srv).get("/signup")
        assert closed.status_code == 403 and "vsrc users create" in closed.text
        late = browser(srv)
        token = csrf_of(late.get("/login").text)
        resp = late.post(
            "/signup", data={"email": "late@example.com", "password": PASSWORD, "csrf_token": token}
        )
        assert resp.status_code == 403
        assert sign_in(srv, "late@example.com").status_code == 401
    finally:
        stop_server(srv)


def test_simultaneous_first_sign_ups_let_only_one_in(tmp_path: Path) -> None:
    # "Open while no user exists" must hold for sign-ups in flight at once, not only for later ones.
    srv = start_server(tmp_path)
    try:
        forms = []
        for _ in range(8):
            client = browser(srv)
            forms.append((client, csrf_of(client.get("/signup").text)))

        def sign_up_at_once(form: tuple[httpx.Client, str]) -> int:
            client, token = form
            email = f"{uuid.uuid4().hex[:8]}@race.example"
            data = {"email": email, "password": PASSWORD, "csrf_token": token}
            return client.post("/signup", data=data).status_code

        with ThreadPoolExecutor(len(forms)) as pool:
            codes = list(pool.map(sign_up_at_once, forms))
        assert sorted(codes) == [303] + [403] * 7, codes
    finally:
        stop_server(srv)


def test_sign_in_sets_a_safe_cookie_and_wrong_password_is_refused(open_server: Server) -> None:
    _, email = sign_up(open_server)
    wrong = sign_in(open_server, email, "not the password")
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
    assert "vsrc_session" not in wrong.headers.get("set-cookie", "")
    unknown = sign_in(open_server, "nobody@example.com")
    assert unknown.status_code == 401 and "Wrong email or password" in unknown.text
    ok = sign_in(open_server, email.upper())
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    cookie = next(c for c in ok.headers.get_list("set-cookie") if c.startswith("vsrc_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie


def test_a_session_cookie_never_authorizes_the_api(open_server: Server) -> None:
    client, _ = sign_up(open_server)
    assert client.get("/").status_code == 200
    for method, path in (("GET", "/api/v1/media"), ("POST", "/api/v1/live"), ("GET", "/api/v1/live")):
        resp = client.request(method, path, json={"title": "x"})
        assert resp.status_code == 401, (path, resp.text)
        assert resp.json()["success"] is False


def test_forms_without_their_csrf_token_are_refused(open_server: Server) -> None:
    client, email = sign_up(open_server)
    assert client.post("/logout").status_code == 403
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert client.get("/").status_code == 200  # still signed in
    anonymous = browser(open_server)
    anonymous.get("/login")
    refused = anonymous.post("/login", data={"email": email, "password": PASSWORD})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert "vsrc_session" not in refused.headers.get("set-cookie", "")


def test_sign_out_revokes_the_session_on_the_server(open_server: Server) -> None:
    client, _ = sign_up(open_server)
    stolen = dict(client.cookies)
    resp = client.post("/logout", data={"csrf_token": page_csrf(client)})
    assert resp.status_code == 303 and resp.headers["location"] == "/login"
    replay = browser(open_server)
    replay.cookies.update(stolen)
    assert replay.get("/").status_code == 303


def test_next_only_leads_to_this_site(open_server: Server) -> None:
    _, email = sign_up(open_server)
    client = browser(open_server)
    token = csrf_of(client.get("/login?next=//evil.example/x").text)
    for target, expected in (("//evil.example/x", "/"), ("https://evil.example", "/"), ("/keys", "/keys")):
        data = {"email": email, "password": PASSWORD, "csrf_token": token, "next": target}
        assert client.post("/login", data=data).headers["location"] == expected


def test_sign_up_never_joins_an_account_that_already_exists(open_server: Server) -> None:
    # Emails are not verified: signing up as the owner of an API-era account (or as the CLI's default
    # "admin@localhost") must not hand its media and keys to whoever typed the address first.
    for owner in ("admin@localhost", f"{uuid.uuid4().hex[:8]}@owner.example"):
        key = open_server.key("write", owner)
        created = open_server.client(key).post("/api/v1/live", json={"title": "owner's stream"})
        assert created.status_code == 201, created.text
        client = browser(open_server)
        token = csrf_of(client.get("/signup").text)
        data = {"email": owner.upper(), "password": PASSWORD, "csrf_token": token}
        resp = client.post("/signup", data=data)
        assert resp.status_code == 400 and "vsrc users create" in resp.text, resp.text
        assert "vsrc_session" not in resp.headers.get("set-cookie", "")
        assert sign_in(open_server, owner).status_code == 401


def test_failed_sign_ins_are_rate_limited(tmp_path: Path) -> None:
    srv = start_server(tmp_path, login_rate_limit="3/minute")
    try:
        _, email = sign_up(srv)
        for _ in range(3):
            assert sign_in(srv, email, "wrong password").status_code == 401
        limited = sign_in(srv, email)  # even the right password waits now
        assert limited.status_code == 429 and "Too many" in limited.text
    finally:
        stop_server(srv)


def test_parallel_sign_ins_cannot_outrun_the_rate_limit(tmp_path: Path) -> None:
    # The limit must hold for attempts in flight at once, not only for ones that follow each other:
    # 20 simultaneous guesses at a 3/minute limit get at most 3 password checks.
    srv = start_server(tmp_path, login_rate_limit="3/minute")
    try:
        _, email = sign_up(srv)
        forms = []
        for _ in range(20):
            client = browser(srv)
            forms.append((client, csrf_of(client.get("/login").text)))

        def guess(form: tuple[httpx.Client, str]) -> int:
            client, token = form
            data = {"email": email, "password": "wrong password!", "csrf_token": token}
            return client.post("/login", data=data).status_code

        with ThreadPoolExecutor(len(forms)) as pool:
            codes = list(pool.map(guess, forms))
        assert sorted(set(codes)) == [401, 429], codes
        assert codes.count(401) <= 3, codes
    finally:
        stop_server(srv)


def test_users_create_reads_the_password_from_stdin(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    assert vsrc(tmp_path, "migrate").returncode == 0
    env = {**os.environ, "VSRC_DATA_DIR": str(tmp_path)}
    cmd = [
        sys.executable,
        "-m",
        "vsrc",
        "users",
        "create",
        "--email",
        "Ops@Example.com",
        "--account",
        "team@example.com",
    ]
    created = subprocess.run(cmd, input=PASSWORD + "\n", capture_output=True, text=True, env=env, timeout=120)
    assert created.returncode == 0, created.stderr
    assert "ops@example.com" in created.stdout and "team@example.com" in created.stdout
    again = subprocess.run(cmd, input=PASSWORD + "\n", capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 2 and "already exists" in again.stderr
    short = subprocess.run(
        [*cmd[:-4], "--email", "x@example.com"],
        input="short\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert short.returncode == 2 and "password" in short.stderr
    srv = start_server(tmp_path)
    try:
        assert sign_in(srv, "ops@example.com").status_code == 303
        assert browser(srv).get("/signup").status_code == 403  # a user exists: sign-up is closed
    finally:
        stop_server(srv)
