"""Count (and time) the SQL statements each API request runs, in-process, to spot N+1 queries.

Runs the real app (``create_app``) under Starlette's TestClient with a SQLAlchemy cursor listener;
slow statements get SQLite's ``EXPLAIN QUERY PLAN``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event
from starlette.testclient import TestClient

from vsrc.api.app import create_app
from vsrc.config import Settings
from vsrc.runtime import Runtime


@dataclass
class Statement:
    sql: str
    params: Any
    ms: float


@dataclass
class Trace:
    path: str
    status: int
    total_ms: float
    statements: list[Statement] = field(default_factory=list)

    @property
    def sql_ms(self) -> float:
        return sum(s.ms for s in self.statements)


class _Recorder:
    def __init__(self) -> None:
        self.current: list[Statement] | None = None
        self._t0 = 0.0

    def before(self, _conn: Any, _cursor: Any, _sql: str, _params: Any, _ctx: Any, _many: bool) -> None:
        self._t0 = time.perf_counter()

    def after(self, _conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, _many: bool) -> None:
        if self.current is not None:
            self.current.append(Statement(sql, params, (time.perf_counter() - self._t0) * 1000))


def trace_requests(settings: Settings, key: str, paths: list[str], *, repeat: int = 3) -> list[Trace]:
    """For each path: one warm-up request, then the fastest of ``repeat`` traced requests."""
    recorder = _Recorder()
    event.listen(Engine, "before_cursor_execute", recorder.before)
    event.listen(Engine, "after_cursor_execute", recorder.after)
    traces: list[Trace] = []
    runtime = Runtime(settings)  # the app takes the process's composition root
    try:
        app = create_app(runtime)
        with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
            for path in paths:
                client.get(path)
                best: Trace | None = None
                for _ in range(repeat):
                    recorder.current = []
                    t0 = time.perf_counter()
                    response = client.get(path)
                    trace = Trace(
                        path, response.status_code, (time.perf_counter() - t0) * 1000, recorder.current
                    )
                    recorder.current = None
                    if best is None or trace.total_ms < best.total_ms:
                        best = trace
                assert best is not None
                traces.append(best)
    finally:
        runtime.close()
        event.remove(Engine, "before_cursor_execute", recorder.before)
        event.remove(Engine, "after_cursor_execute", recorder.after)
    return traces


def explain(engine: Engine, statement: Statement) -> list[str]:
    """SQLite's ``EXPLAIN QUERY PLAN`` of a recorded statement, one line per plan step."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("EXPLAIN QUERY PLAN " + statement.sql, statement.params)
        return [str(row[-1]) for row in cursor.fetchall()]
    finally:
        raw.close()


def short_sql(sql: str, width: int = 90) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."
