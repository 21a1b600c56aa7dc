"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from vsrc import __version__
from vsrc.api.background import housekeeping
from vsrc.api.bodylimit import BodyLimitMiddleware
from vsrc.api.cors import CORSExceptMiddleware
from vsrc.api.delivery import DeliveryMiddleware
from vsrc.api.deps import AppState
from vsrc.api.diskguard import DiskGuardMiddleware
from vsrc.api.errors import install_error_handlers
from vsrc.api.methods import MethodNotAllowedMiddleware
from vsrc.api.openapi import install_openapi
from vsrc.api.ratelimit import RateLimitMiddleware
from vsrc.api.routes import (
    analytics,
    health,
    hooks,
    live,
    media,
    playback,
    player,
    profiles,
    signing_keys,
    tus,
    uploads,
    webhooks,
)
from vsrc.api.upload_sweeper import sweep_forever
from vsrc.redact import install_access_log_redaction
from vsrc.runtime import Runtime
from vsrc.services.analytics import AnalyticsIngest
from vsrc.services.tokens import PlaybackGuard, TokenVerifier
from vsrc.web import install_dashboard

DESCRIPTION = """VSRC (Video Streaming & Recording Cloud) Public API for customer-facing video operations.

All API requests require authentication using an API key in the Authorization header:
`Authorization: Bearer YOUR_API_KEY`
"""


def create_app(runtime: Runtime) -> FastAPI:
    """Build the app on ``runtime``; the database must already be migrated (``vsrc migrate``)."""
    settings = runtime.settings
    logging.getLogger("vsrc").setLevel(settings.log_level)
    install_access_log_redaction()  # the nginx-rtmp hooks carry ?secret= in their URL

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state: AppState = app.state.vsrc
        keep = state.tus.live_part_uploads  # paused tus uploads are not abandoned
        async with housekeeping(settings, runtime.storage, keep), anyio.create_task_group() as tasks:
            tasks.start_soon(sweep_forever, app.state.vsrc)
            yield
            tasks.cancel_scope.cancel()
        await anyio.to_thread.run_sync(app.state.vsrc.close)  # e.g. keys' last use, noted in memory
        runtime.close()

    app = FastAPI(
        title="VSRC Public API",
        version=__version__,
        description=DESCRIPTION,
        redirect_slashes=False,
        lifespan=lifespan,
    )
    storage_uri = settings.redis_url or "memory://"
    app.state.vsrc = AppState(
        runtime=runtime,
        analytics=AnalyticsIngest(
            runtime.sessions,
            ip_limit=settings.analytics_ip_limit,
            session_limit=settings.analytics_session_limit,
            retention_days=settings.analytics_retention_days,
            storage_uri=storage_uri,
        ),
        guard=PlaybackGuard(
            runtime.sessions,
            runtime.storage,
            TokenVerifier(runtime.sessions, ttl=settings.signing_key_cache_seconds),
        ),
    )
    install_error_handlers(app)
    install_openapi(app)
    # Innermost: answers a method the path does not have with 405 and the path's whole Allow.
    app.add_middleware(MethodNotAllowedMiddleware, routes=app.router.routes)
    # Player analytics have their own per-IP and per-session limits (many viewers share one NAT).
    app.add_middleware(
        RateLimitMiddleware,
        limit=settings.rate_limit,
        storage_uri=storage_uri,
        exempt=("/api/analytics/",),
    )
    # Inside CORS, so that a browser can read its 507.
    app.add_middleware(DiskGuardMiddleware, settings=settings, prefixes=("/api/", "/tus/"))
    # Players and embeds run on customers' origins; keys are bearer tokens, never cookies.
    app.add_middleware(
        CORSExceptMiddleware,
        skip=("/tus/",),
        allow_origins=["*"],
        allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=["Content-Length", "Content-Range", "Accept-Ranges", "Retry-After"],
    )
    # Added last, so it runs first: nothing below it ever buffers a huge JSON body.
    app.add_middleware(BodyLimitMiddleware, exempt=("/api/v1/media/upload", "/tus/"))
    # Outermost: behind a trusted proxy the client is the X-Forwarded-For address, for the rate
    # limits and analytics; anyone else's X-Forwarded-For is ignored.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)
    # Viewer delivery answers before every other layer (plain ASGI, cached; docs/architecture.md).
    app.add_middleware(DeliveryMiddleware, state=app.state.vsrc)
    routers = (
        health.router,
        media.router,
        live.router,
        live.servers_router,
        profiles.router,
        signing_keys.router,
        playback.router,
        player.router,
        hooks.router,
        analytics.router,
        uploads.router,
        tus.router,
        webhooks.router,
    )
    for router in routers:
        app.include_router(router)
    install_dashboard(app)
    return app


def app_from_env() -> FastAPI:
    """The app for the settings in the environment (uvicorn's ``--factory`` entry point)."""
    from vsrc.runtime import runtime_from_env

    return create_app(runtime_from_env())
