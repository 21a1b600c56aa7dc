"""API benchmark: read endpoints over 100,000 media / 1,000 tags vs a bare FastAPI constant endpoint.

    .venv/bin/python -m bench.api [--media 100000] [--tags 1000] [--concurrency 1,4] [--seconds 4]
                                  [--workdir DIR] [--json FILE]

Seeds one account's SQLite database with SQLAlchemy Core bulk inserts (one transaction), serves it
with `vsrc api` (one uvicorn process) and the baseline app (`bench.baseline_app`, same uvicorn
settings), and drives both with the closed-loop client in `bench.load` at each concurrency. Then
counts the SQL statements per request in-process (N+1 check: limit=20 vs limit=100) and prints
SQLite's query plan for every statement slower than 2 ms. Target: p95 < 25 ms for every endpoint.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from bench import common
from bench.load import run_load
from bench.seed import ALL_TAGS, seed
from bench.sqlcount import Trace, explain, short_sql, trace_requests
from vsrc.config import Settings
from vsrc.db.session import make_engine

TARGET_P95_MS = 25.0
SLOW_STATEMENT_MS = 2.0
ACCOUNT = "bench@localhost"
TAGS = ",".join(ALL_TAGS)


@dataclass
class Row:
    name: str
    concurrency: int
    requests: int
    errors: int
    rps: float
    p50: float
    p95: float
    p99: float


@dataclass
class SlowStatement:
    sql: str
    ms: float
    plan: list[str]


@dataclass
class SqlRecord:
    name: str
    status: int
    statements: int
    sql_ms: float
    request_ms: float
    slow: list[SlowStatement]


@dataclass
class Result:
    machine: str
    date: str
    media: int
    tags: int
    links: int
    seed_seconds: float
    rows: list[Row] = field(default_factory=list)
    sql: list[SqlRecord] = field(default_factory=list)
    load_start: float = 0.0
    load_end: float = 0.0


def endpoints(media_ids: list[str]) -> dict[str, list[str]]:
    """Benchmark name -> request paths (cycled by the load client)."""
    rng = random.Random(7)
    return {
        "list page 1": ["/api/v1/media?page=1&limit=20"],
        "list page 2500 (deep)": ["/api/v1/media?page=2500&limit=20"],
        "list encodingStatus=completed": ["/api/v1/media?encodingStatus=completed"],
        "get by id": [f"/api/v1/media/{m}" for m in rng.sample(media_ids, min(1000, len(media_ids)))],
        f"search {TAGS} any": [f"/api/v1/media/search?tags={TAGS}&match=any"],
        f"search {TAGS} all": [f"/api/v1/media/search?tags={TAGS}&match=all"],
    }


BASELINES = {
    "baseline: FastAPI constant (async)": "/const",
    "baseline: FastAPI constant (sync def)": "/const-sync",
}


def prepare(workdir: Path, media: int, tags: int) -> tuple[dict[str, str], str, list[str], Result]:
    env = common.vsrc_env(workdir / "data")
    common.vsrc_cli(["migrate"], env)
    key = common.create_key(env, account=ACCOUNT)
    print(f"seeding {media} media, {tags} tags ...", flush=True)
    start = time.perf_counter()
    engine = make_engine(Settings(data_dir=workdir / "data").sqlalchemy_url)
    seeded = seed(engine, account_email=ACCOUNT, media=media, tags=tags)
    engine.dispose()
    took = time.perf_counter() - start
    print(f"  {seeded.media_count} media, {seeded.tag_count} tags, {seeded.link_count} links in {took:.1f}s")
    result = Result(
        common.machine(), common.today(), seeded.media_count, seeded.tag_count, seeded.link_count, took
    )
    return env, key, seeded.media_ids, result


def measure(
    result: Result,
    env: dict[str, str],
    key: str,
    paths: dict[str, list[str]],
    levels: list[int],
    seconds: float,
) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    with common.uvicorn_app("bench.baseline_app:app") as baseline, common.vsrc_api(env) as server:
        for concurrency in levels:
            targets: list[tuple[str, str, list[str], dict[str, str]]]
            targets = [(n, baseline.url, [p], {}) for n, p in BASELINES.items()]
            targets += [(n, server.url, p, auth) for n, p in paths.items()]
            for name, url, plist, headers in targets:
                load = run_load(url, plist, headers=headers, concurrency=concurrency, seconds=seconds)
                row = Row(
                    name,
                    concurrency,
                    load.requests,
                    load.errors,
                    load.rps,
                    load.pct(50),
                    load.pct(95),
                    load.pct(99),
                )
                result.rows.append(row)
                print(
                    f"  c={concurrency} {name:40s} {row.rps:7.0f} req/s  p50 {row.p50:6.1f}  "
                    f"p95 {row.p95:6.1f}  p99 {row.p99:6.1f} ms  errors {row.errors}",
                    flush=True,
                )


def sql_check(result: Result, workdir: Path, key: str, paths: dict[str, list[str]]) -> None:
    settings = Settings(data_dir=workdir / "data", rate_limit=common.NO_RATE_LIMIT)
    probe = {name: plist[0] for name, plist in paths.items()}
    probe["list page 1, limit=100"] = "/api/v1/media?page=1&limit=100"
    probe[f"search {TAGS} any, limit=100"] = f"/api/v1/media/search?tags={TAGS}&match=any&limit=100"
    names = list(probe)
    engine = make_engine(settings.sqlalchemy_url)
    for name, trace in zip(names, trace_requests(settings, key, list(probe.values())), strict=True):
        result.sql.append(_trace_record(name, trace, engine))
    engine.dispose()


def _trace_record(name: str, trace: Trace, engine: Engine) -> SqlRecord:
    slow = [
        SlowStatement(short_sql(st.sql, 160), round(st.ms, 2), explain(engine, st))
        for st in trace.statements
        if st.ms >= SLOW_STATEMENT_MS
    ]
    return SqlRecord(
        name, trace.status, len(trace.statements), round(trace.sql_ms, 2), round(trace.total_ms, 2), slow
    )


def report(res: Result, levels: list[int]) -> str:
    out = [
        f"machine: {res.machine}; {res.date}; load average {res.load_start:.2f} at start, "
        f"{res.load_end:.2f} at end",
        f"data: {res.media} media, {res.tags} tags, {res.links} media-tag links, one account "
        f"(seeded in {res.seed_seconds:.1f}s)",
        "",
    ]
    for concurrency in levels:
        rows = [r for r in res.rows if r.concurrency == concurrency]
        base = rows[0]
        table = [
            [
                r.name,
                f"{r.rps:.0f}",
                f"{r.p50:.1f}",
                f"{r.p95:.1f}",
                f"{r.p99:.1f}",
                r.errors,
                f"{r.p95 / base.p95:.1f}x",
                f"{r.rps / base.rps:.2f}",
                "base" if r.name.startswith("baseline") else ("MET" if r.p95 < TARGET_P95_MS else "MISSED"),
            ]
            for r in rows
        ]
        out += [
            f"concurrency {concurrency}:",
            "",
            common.md_table(
                [
                    "endpoint",
                    "req/s",
                    "p50 ms",
                    "p95 ms",
                    "p99 ms",
                    "errors",
                    "p95 / baseline",
                    "req/s / baseline",
                    f"p95 < {TARGET_P95_MS:.0f} ms",
                ],
                table,
            ),
            "",
        ]
    out += ["SQL statements per request (in-process, N+1 check):", ""]
    out.append(
        common.md_table(
            ["request", "HTTP", "statements", "SQL ms", "request ms (TestClient)"],
            [[s.name, s.status, s.statements, s.sql_ms, s.request_ms] for s in res.sql],
        )
    )
    by_name = {s.name: s.statements for s in res.sql}
    for small, large in (
        ("list page 1", "list page 1, limit=100"),
        (f"search {TAGS} any", f"search {TAGS} any, limit=100"),
    ):
        if small in by_name and large in by_name:
            grows = by_name[large] > by_name[small]
            out.append(
                f"\nN+1 check, {small}: {by_name[small]} statements at limit=20, {by_name[large]} at "
                f"limit=100: {'N+1 SUSPECTED' if grows else 'no N+1'}"
            )
    slow = [(s.name, q) for s in res.sql for q in s.slow]
    if slow:
        out += ["", f"statements slower than {SLOW_STATEMENT_MS} ms and their plans:", ""]
        for name, q in slow:
            out.append(f"- {name}: {q.ms} ms `{q.sql}`")
            out += [f"    - {step}" for step in q.plan]
    return "\n".join(out) + "\n"


def run(workdir: Path, media: int, tags: int, levels: list[int], seconds: float) -> Result:
    env, key, media_ids, result = prepare(workdir, media, tags)
    paths = endpoints(media_ids)
    measure(result, env, key, paths, levels, seconds)
    sql_check(result, workdir, key, paths)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--media", type=int, default=100_000)
    parser.add_argument("--tags", type=int, default=1_000)
    parser.add_argument("--concurrency", default="1,4", help="comma-separated levels (default 1,4)")
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per endpoint and level")
    common.add_run_options(parser)
    args = parser.parse_args()
    load_start = common.wait_for_quiet(args.wait_quiet)
    levels = [int(c) for c in args.concurrency.split(",")]
    res = common.in_workdir(
        args.workdir, "api", lambda root: run(root, args.media, args.tags, levels, args.seconds)
    )
    res.load_start, res.load_end = load_start, common.loadavg()
    print()
    print(report(res, levels))
    common.write_json(args.json, {"benchmark": "api", **asdict(res)})


if __name__ == "__main__":
    main()
