"""Benchmark: the tracking prefix /e/<podcast key>/<enclosure URL without scheme> under gunicorn, against a bare
Flask 302 app as baseline, then the no-loss checks (steady run, and a run with a Redis outage in the middle).

Run from the project root:  /work/venv/bin/python bench/bench_prefix.py [--target-requests 110000] [--rounds 4]
                            [--no-outage] [--profile /path/to/py-spy]

Everything it starts it stops, and everything it creates it drops: a fresh PostgreSQL database
(bench_prefix_<random>), a dedicated Redis on --redis-port (refuses to run if something already listens there),
gunicorn servers (bare and product side by side, each idle while the other is measured; then one for the
outage run) and a temp dir. Every request goes to 127.0.0.1, every loop is bounded in
count and time. Requires wrk (apt-get install -y wrk) and PostgreSQL at 127.0.0.1:5432 (user postgres, trust).

Targets (issue): product throughput >= 0.8 x the bare app, p99 latency <= 10 ms, no hit lost (rows == hits sent).
Figures compared: the throughput ratio is from the saturated rounds (--connections, default 50), bare and product
alternating. Both apps run the same way (gunicorn sync workers, -w 2), so in a closed loop of c connections a
request waits behind about c/2 others per worker: p99 >= c / throughput for any app, the bare one included. The
latency target is therefore read at the first count of --sweep (default 4: wrk's 2 threads x 2 connections, no
queueing beyond one request per worker), worst of two runs; the sweep prints bare and product p50/p99 and
throughput at every count (default 4, 16, 50), back to back, for comparison. Redis runs as the README documents
(appendonly yes, appendfsync everysec); the outage run SIGKILLs it and restarts it from its AOF. The runs themselves
are endpoint_runs.py's, shared with bench_pixel.py.
"""
from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from services import demo, migrate  # noqa: E402
from services.db import Database  # noqa: E402

# create_database, drop_database and app_env are also bench_hit_durability.py's (imported from here).
from endpoint_runs import Endpoint, app_env, create_database, drop_database, parse_args, run_bench, sql_count  # noqa: E402,F401
from wrk_load import AGENTS, lua_script  # noqa: E402


def seed(url: str) -> tuple[list[str], list[int], datetime]:
    """Migrate and seed the demo tenant; (~200 episode prefix paths interleaved across the shows, podcast ids,
    when seeding ended)."""
    migrate.upgrade(url)
    db = Database(url, "podcast_app")
    started = time.perf_counter()
    result = demo.seed_demo(db, password="bench-password-1")
    db.dispose()
    print(f"seeded demo tenant {result['tenant_id']}: {result['episodes']} episodes, {result['requests']:,} raw "
          f"requests in {time.perf_counter() - started:.1f} s", flush=True)
    seeded_at = datetime.now(timezone.utc)
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        rows = conn.execute("SELECT p.id, p.prefix_key, e.enclosure_url FROM episodes e JOIN podcasts p "
                            "ON p.id = e.podcast_id WHERE p.tenant_id = %s ORDER BY e.id",
                            (result["tenant_id"],)).fetchall()
    by_podcast: dict[int, list[str]] = {}
    for pid, key, enclosure in rows:
        by_podcast.setdefault(pid, []).append(f"/e/{key}/{enclosure.split('://', 1)[1]}")
    paths = []  # ~200, interleaved across the shows
    for i in range(max(len(v) for v in by_podcast.values())):
        paths += [v[-1 - i] for v in by_podcast.values() if i < len(v)]
    return paths[:200], sorted(by_podcast), seeded_at


def stored_rows(url: str, podcast_ids: list[int], since: datetime) -> int:
    return sql_count(url, "SELECT count(*) FROM download_requests WHERE source = 'prefix' "
                          "AND podcast_id = ANY(%s) AND ts >= %s", (podcast_ids, since))


def prefix_endpoint(url: str) -> tuple[Endpoint, datetime]:
    paths, podcast_ids, seeded_at = seed(url)
    print(f"{len(paths)} episode paths x {len(AGENTS)} agents, e.g. {paths[0]}")
    return Endpoint(
        name="/e/ prefix", bare_name="bare Flask 302", script=lua_script(paths),
        probe=lambda i: (paths[i % len(paths)], {"User-Agent": AGENTS[i % len(AGENTS)]}),
        is_hit=lambda status, headers: status == 302 and headers.get("Location", "").startswith("https://"),
        stored_rows=lambda since: stored_rows(url, podcast_ids, since)), seeded_at


def main() -> int:
    return run_bench(parse_args(__doc__, "bench_prefix", redis_port=6391), prefix_endpoint)


if __name__ == "__main__":
    sys.exit(main())
