"""Dashboard helpers over plain HTTP: sign up / sign in like a browser form would, CSRF token included."""

from __future__ import annotations

import re
import uuid

import httpx

from tests.conftest import Server

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no csrf_token field in the page"
    return match.group(1)


def browser(server: Server) -> httpx.Client:
    """A cookie-keeping client that does not follow redirects (tests look at them)."""
    return httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)


def sign_up(server: Server, email: str | None = None, password: str = PASSWORD) -> tuple[httpx.Client, str]:
    """A new signed-in client (sign-up must be open) and its email."""
    email = email or f"{uuid.uuid4().hex[:10]}@example.com"
    client = browser(server)
    token = csrf_of(client.get("/signup").text)
    resp = client.post("/signup", data={"email": email, "password": password, "csrf_token": token})
    assert resp.status_code == 303 and resp.headers["location"] == "/", resp.text
    return client, email


def sign_in(server: Server, email: str, password: str = PASSWORD) -> httpx.Response:
    client = browser(server)
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def page_csrf(client: httpx.Client, path: str = "/") -> str:
    resp = client.get(path)
    assert resp.status_code == 200, resp.text
    return csrf_of(resp.text)
