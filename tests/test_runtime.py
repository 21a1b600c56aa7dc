"""The composition root (docs/architecture.md#composition-root): one place builds engines, storages and
queues; the task bodies never import the queue module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from vsrc.config import Settings
from vsrc.errors import ConfigError
from vsrc.runtime import Runtime

SRC = Path(__file__).resolve().parents[1] / "src" / "vsrc"


def _calls(name: str) -> set[str]:
    """Modules of ``src/vsrc`` that call a function named ``name``."""
    found = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if called == name:
                    found.add(str(path.relative_to(SRC)))
    return found


def _imports(module: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_engines_storages_and_queues_are_built_only_by_the_runtime() -> None:
    # db/migrations/env.py is Alembic's own process entry point.
    assert _calls("make_engine") == {"runtime.py", "db/migrations/env.py"}
    assert _calls("open_storage") == {"runtime.py"}
    assert _calls("LocalStorage") | _calls("S3Storage") == {"storage/factory.py"}
    assert _calls("build_queue") == {"runtime.py"}


def test_task_bodies_do_not_import_the_queue() -> None:
    assert "vsrc.tasks.queue" not in _imports(SRC / "tasks" / "jobs.py")


def test_runtime_binds_tasks_under_their_stable_names(tmp_path: Path) -> None:
    runtime = Runtime(Settings(data_dir=tmp_path))
    try:
        registry = runtime.queue.huey._registry
        # Messages already queued by an older version name their task this way.
        assert (
            registry.task_to_string(runtime.queue.encode_media.task_class) == "vsrc.tasks.jobs.encode_media"
        )
        assert runtime.queue is runtime.queue  # one queue per runtime
    finally:
        runtime.close()


@pytest.mark.parametrize("rate", ["1000/15 minutes", "100 per minute", "5/second", "10 per 2 hours"])
def test_rate_strings_are_read_by_limits(rate: str) -> None:
    from limits import parse

    assert Settings(rate_limit=rate).rate_limit == rate
    assert parse(rate).amount > 0


@pytest.mark.parametrize(
    "field", ["VSRC_RATE_LIMIT", "VSRC_ANALYTICS_IP_LIMIT", "VSRC_ANALYTICS_SESSION_LIMIT"]
)
def test_bad_rate_strings_are_refused_at_start(field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from vsrc.config import load_settings

    monkeypatch.setenv(field, "lots")
    with pytest.raises(ConfigError, match=field):
        load_settings()
