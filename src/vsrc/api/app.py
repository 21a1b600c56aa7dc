"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from vsrc import __version__
from vsrc.api.bodylimit import BodyLimitMiddleware
from vsrc.api.deps import AppState
from vsrc.api.errors import install_error_handlers
from vsrc.api.ratelimit import RateLimitMiddleware
from vsrc.api.routes import analytics, health, hooks, live, media, playback, player, profiles
from vsrc.config import Settings
from vsrc.db.session import make_engine, make_session_factory
from vsrc.services.analytics import AnalyticsIngest
from vsrc.storage import LocalStorage
from vsrc.tasks.queue import build_queue

DESCRIPTION = """VSRC (Video Streaming & Recording Cloud) Public API for customer-facing video operations.

All API requests require authentication using an API key in the Authorization header:
`Authorization: Bearer YOUR_API_KEY`
"""


def create_app(settings: Settings) -> FastAPI:
    """Build the app for ``settings``; the database must already be migrated (``vsrc migrate``)."""
    logging.getLogger("vsrc").setLevel(settings.log_level)
    engine = make_engine(settings.sqlalchemy_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="VSRC Public API",
        version=__version__,
        description=DESCRIPTION,
        redirect_slashes=False,
        lifespan=lifespan,
    )
    sessions = make_session_factory(engine)
    storage_uri = settings.redis_url or "memory://"
    app.state.vsrc = AppState(
        settings=settings,
        sessions=sessions,
        storage=LocalStorage(settings.storage_root),
        queue=build_queue(settings),
        analytics=AnalyticsIngest(
            sessions,
            ip_limit=settings.analytics_ip_limit,
            session_limit=settings.analytics_session_limit,
            retention_days=settings.analytics_retention_days,
            storage_uri=storage_uri,
        ),
    )
    install_error_handlers(app)
    # Player analytics have their own per-IP and per-session limits (many viewers share one NAT).
    app.add_middleware(
        RateLimitMiddleware,
        limit=settings.rate_limit_item,
        storage_uri=storage_uri,
        exempt=("/api/analytics/",),
    )
    # Players and embeds run on customers' origins; keys are bearer tokens, never cookies.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "HEAD", "POST", "DELETE", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=["Content-Length", "Content-Range", "Accept-Ranges", "Retry-After"],
    )
    # Added last, so it runs first: nothing below it ever buffers a huge JSON body.
    app.add_middleware(BodyLimitMiddleware, exempt=("/api/v1/media/upload",))
    routers = (
        health.router,
        media.router,
        live.router,
        live.servers_router,
        profiles.router,
        playback.router,
        player.router,
        hooks.router,
        analytics.router,
    )
    for router in routers:
        app.include_router(router)
    return app


def app_from_env() -> FastAPI:
    """The app for the settings in the environment (uvicorn's ``--factory`` entry point)."""
    from vsrc.config import load_settings

    return create_app(load_settings())
