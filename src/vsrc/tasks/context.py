"""What a job needs, built once per worker process from the environment."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy.orm import Session, sessionmaker

from vsrc.config import Settings, load_settings
from vsrc.db.session import make_engine, make_session_factory
from vsrc.storage import LocalStorage, Storage


@dataclass(frozen=True)
class WorkerContext:
    settings: Settings
    sessions: sessionmaker[Session]
    storage: Storage


def build_context(settings: Settings) -> WorkerContext:
    return WorkerContext(
        settings=settings,
        sessions=make_session_factory(make_engine(settings.sqlalchemy_url)),
        storage=LocalStorage(settings.storage_root),
    )


@lru_cache(maxsize=1)
def worker_context() -> WorkerContext:
    return build_context(load_settings())
