"""FastAPI dependencies, defined once as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

import anyio
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from vsrc.api.health_cache import HealthCache
from vsrc.api.tus_body import Writers
from vsrc.config import Settings
from vsrc.db.session import transaction
from vsrc.errors import AuthError
from vsrc.runtime import Runtime
from vsrc.services import direct_uploads, keys
from vsrc.services.analytics import AnalyticsIngest
from vsrc.services.key_usage import KeyUsage
from vsrc.services.tokens import PlaybackGuard
from vsrc.services.tus_store import TusStore
from vsrc.storage import Storage
from vsrc.tasks.queue import TaskQueue


@dataclass
class AppState:
    """Everything the app holds for its lifetime (on ``app.state.vsrc``): the process's runtime and
    what only the API needs."""

    runtime: Runtime
    analytics: AnalyticsIngest
    guard: PlaybackGuard

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.runtime.sessions

    @property
    def storage(self) -> Storage:
        return self.runtime.storage

    @property
    def queue(self) -> TaskQueue:
        return self.runtime.queue

    @cached_property
    def key_cache(self) -> keys.KeyCache:
        return keys.KeyCache(self.sessions, ttl=self.settings.key_cache_seconds)

    @cached_property
    def key_usage(self) -> KeyUsage:
        return KeyUsage(self.sessions, interval=self.settings.key_touch_seconds)

    @cached_property
    def tus(self) -> TusStore:
        """Where direct uploads' bytes wait (a partial file here, or an S3 multipart upload)."""
        return direct_uploads.open_store(self.sessions, self.storage, tmp_dir=self.settings.tmp_dir)

    @cached_property
    def tus_writers(self) -> Writers:
        return Writers()

    @cached_property
    def health(self) -> HealthCache:
        return HealthCache(self.sessions, self.settings, ttl=self.settings.health_cache_seconds)

    def close(self) -> None:
        """Write what only this process knows (keys' last use); blocking, call it off the loop."""
        self.key_usage.close()


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.vsrc
    return state


# Dependencies that do no I/O are ``async def``: a plain ``def`` would cost a thread-pool hop each.
async def state_dependency(request: Request) -> AppState:
    return get_state(request)


StateDep = Annotated[AppState, Depends(state_dependency)]


def get_session(state: StateDep) -> Iterator[Session]:
    with transaction(state.sessions) as session:
        yield session


# scope="function": the commit happens before the response is sent, so a failed commit is a 500, not a 2xx.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_principal(request: Request, state: StateDep) -> keys.Principal:
    """The caller of a bearer key: from the process's key cache, else one lookup in a worker
    thread. Notes the key's use for its ``lastUsedAt`` (written in the background)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("Missing API key: send 'Authorization: Bearer <key>'")
    principal = state.key_cache.cached(token)
    if principal is None:
        principal = await anyio.to_thread.run_sync(state.key_cache.check, token)
    state.key_usage.record(principal.key_id)
    return principal


async def require_write(principal: Annotated[keys.Principal, Depends(get_principal)]) -> keys.Principal:
    principal.require("write")
    return principal


Reader = Annotated[keys.Principal, Depends(get_principal)]
Writer = Annotated[keys.Principal, Depends(require_write)]
