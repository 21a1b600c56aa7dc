"""Dashboard routers, in the order they are mounted."""

from __future__ import annotations

from vsrc.web.routes import (
    auth,
    keys,
    library,
    live_page,
    media_page,
    signing_keys_page,
    static,
    upload_page,
    webhooks_page,
)

ROUTERS = (
    static.router,
    auth.router,
    library.router,
    media_page.router,
    keys.router,
    live_page.router,
    signing_keys_page.router,
    upload_page.router,
    webhooks_page.router,
)
