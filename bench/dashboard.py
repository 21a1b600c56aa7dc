"""The dashboard's library page on 10,000 media items, server-rendered by a real `vsrc api`, against the
JSON list endpoint of the same page size in the same run (ratios: the machine is shared), plus the page
weight of `/` (HTML + CSS + JS, gzip, the player bundle excluded — `/` does not load it).

    .venv/bin/python -m bench.dashboard [--media 10000] [--seconds 5] [--reps 2] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import gzip
import re
import subprocess
import tempfile
from pathlib import Path

import httpx

from bench.common import VSRC, create_key, loadavg, machine, md_table, vsrc_api, vsrc_cli, vsrc_env
from bench.load import run_load
from bench.seed import seed

ACCOUNT = "bench@localhost"
PASSWORD = "benchmark password"


def sign_in(base: str) -> str:
    """The session cookie of the bench user, through the real sign-in form."""
    with httpx.Client(base_url=base, follow_redirects=False) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token, "no CSRF token on /login"
        resp = client.post("/login", data={"email": ACCOUNT, "password": PASSWORD, "csrf_token": token[1]})
        assert resp.status_code == 303, resp.text
        return str(client.cookies["vsrc_session"])


def page_weight(base: str, cookie: str) -> list[list[object]]:
    """Bytes of `/` and of every stylesheet and script it loads, raw and gzip -6."""
    rows: list[list[object]] = []
    with httpx.Client(base_url=base, cookies={"vsrc_session": cookie}) as client:
        html = client.get("/").content
        assets = re.findall(rb'(?:href|src)="(/static/[^"]+)"', html)
        for name, body in [("/ (HTML)", html)] + [
            (a.decode(), client.get(a.decode()).content) for a in assets
        ]:
            rows.append([name, len(body), len(gzip.compress(body, 6))])
    rows.append(["total", sum(int(r[1]) for r in rows), sum(int(r[2]) for r in rows)])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vsrc-bench-dash-") as tmp:
        env = vsrc_env(Path(tmp))
        vsrc_cli(["migrate"], env)
        subprocess.run(
            [VSRC, "users", "create", "--email", ACCOUNT],
            input=PASSWORD + "\n",
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        key = create_key(env, account=ACCOUNT)
        from vsrc.db.session import make_engine

        engine = make_engine(f"sqlite:///{Path(tmp) / 'vsrc.db'}")
        seeded = seed(engine, account_email=ACCOUNT, media=args.media, tags=100, tags_per_media=3)
        engine.dispose()
        with vsrc_api(env) as server:
            cookie = sign_in(server.url)
            cases = {
                "dashboard / (24 cards, HTML)": (["/"], {"Cookie": f"vsrc_session={cookie}"}),
                "dashboard /?page=200": (["/?page=200"], {"Cookie": f"vsrc_session={cookie}"}),
                "dashboard /?tags=t1,t2&match=all": (
                    ["/?tags=t1,t2&match=all"],
                    {"Cookie": f"vsrc_session={cookie}"},
                ),
                "API GET /api/v1/media?limit=24 (JSON)": (
                    ["/api/v1/media?limit=24"],
                    {"Authorization": f"Bearer {key}"},
                ),
            }
            results: dict[str, list[float]] = {name: [] for name in cases}
            p50: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(args.reps):  # interleaved, so drift of the machine's load hits all alike
                for name, (paths, headers) in cases.items():
                    run = run_load(
                        server.url, paths, headers=headers, concurrency=args.concurrency, seconds=args.seconds
                    )
                    assert run.errors == 0, f"{name}: {run.errors} non-200 answers"
                    results[name].append(run.pct(95))
                    p50[name].append(run.pct(50))
            weight = page_weight(server.url, cookie)
    api = min(results["API GET /api/v1/media?limit=24 (JSON)"])
    print(f"machine: {machine()}; load average at the end {loadavg():.2f}; {seeded.media_count} media")
    print(
        md_table(
            ["request", "p50 ms (best rep)", "p95 ms (best rep)", "p95 vs JSON list"],
            [
                [name, f"{min(p50[name]):.1f}", f"{min(v):.1f}", f"{min(v) / api:.2f}x"]
                for name, v in results.items()
            ],
        )
    )
    print()
    print(md_table(["page weight of /", "bytes", "gzip bytes"], weight))
    total_gz = int(weight[-1][2])
    print(f"\npage weight of / (gzip): {total_gz / 1024:.1f} KiB (budget 150 KB)")


if __name__ == "__main__":
    main()
