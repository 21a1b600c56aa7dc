"""FastAPI dependencies, defined once as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from vsrc.config import Settings
from vsrc.db.session import transaction
from vsrc.errors import AuthError, InsufficientStorage
from vsrc.runtime import Runtime
from vsrc.services import keys
from vsrc.services.analytics import AnalyticsIngest
from vsrc.services.tokens import PlaybackGuard
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


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.vsrc
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    with transaction(state.sessions) as session:
        yield session


# scope="function": the commit happens before the response is sent, so a failed commit is a 500, not a 2xx.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


NEVER_TOUCH = 2**31


def get_principal(request: Request, state: StateDep) -> keys.Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Missing API key: send 'Authorization: Bearer <key>'")
    try:
        with transaction(state.sessions) as session:
            return keys.authenticate(
                session, plaintext=token.strip(), touch_after=state.settings.key_touch_seconds
            )
    except InsufficientStorage:
        # lastUsedAt is a courtesy: a full disk must not turn reads into errors.
        with transaction(state.sessions) as session:
            return keys.authenticate(session, plaintext=token.strip(), touch_after=NEVER_TOUCH)


def require_write(principal: Annotated[keys.Principal, Depends(get_principal)]) -> keys.Principal:
    principal.require("write")
    return principal


Reader = Annotated[keys.Principal, Depends(get_principal)]
Writer = Annotated[keys.Principal, Depends(require_write)]
