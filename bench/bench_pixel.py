"""Benchmark: the conversion pixel /px.gif?k=<pixel key>&e=<type>&id=<event id>&v=&c=&o= under gunicorn, against a
bare Flask app answering a static GIF as baseline, then the no-loss checks (steady run, and a run with a Redis
outage in the middle): every call answered with the GIF is one row in attribution_events after the drain.

Run from the project root:  .venv/bin/python bench/bench_pixel.py [--target-requests 110000] [--rounds 4]
                            [--no-outage] [--sweep 4,16,50]

Everything it starts it stops, and everything it creates it drops: a fresh PostgreSQL database
(bench_pixel_<random>, migrated and seeded with the demo tenant, whose sponsors have pixel keys), a dedicated Redis
on --redis-port (refuses a port already in use; appendonly yes, appendfsync everysec as the README says), gunicorn
servers and a temp dir. Every request goes to 127.0.0.1, every loop is bounded in count and time. Requires wrk
(apt-get install -y wrk) and PostgreSQL at 127.0.0.1:5432 (user postgres, trust).

Each call carries a unique event id (run nonce, wrk thread, request number), so a call stored twice would show
as a row too many and a call lost as one too few. The calls cycle over the demo's sponsors, the event types and a
few values and currencies, all valid: a rejected call is counted in attribution_rejections, not as a row.
Targets (issue): product throughput >= 0.8 x the bare app, p99 <= 10 ms at 4 connections, no event lost. The runs,
their figures and their caveats are endpoint_runs.py's (see bench_prefix.py's docstring).
"""
from __future__ import annotations

import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from services import demo, migrate  # noqa: E402
from services.db import Database  # noqa: E402
from services.sponsorship.attribution.pixel import RECORD_STORES  # noqa: E402

from endpoint_runs import Endpoint, parse_args, run_bench, sql_count  # noqa: E402
from wrk_load import AGENTS, lua_script  # noqa: E402

GIF_TYPE = "image/gif"
# (type, value, currency): what a sponsor's pages send; the order id is the event id's twin.
CALLS = [("purchase", "49.90", "USD"), ("signup", "", ""), ("pageview", "", ""), ("lead", "", ""),
         ("purchase", "12.5", "EUR"), ("install", "", "")]


def seed(url: str) -> tuple[list[str], list[int], datetime]:
    """Migrate and seed the demo tenant; (its sponsors' pixel keys, their ids, when seeding ended)."""
    migrate.upgrade(url)
    db = Database(url, "podcast_app")
    started = time.perf_counter()
    result = demo.seed_demo(db, password="bench-password-1")
    db.dispose()
    print(f"seeded demo tenant {result['tenant_id']} in {time.perf_counter() - started:.1f} s", flush=True)
    seeded_at = datetime.now(timezone.utc)
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        rows = conn.execute("SELECT id, pixel_key FROM sponsors WHERE tenant_id = %s ORDER BY id",
                            (result["tenant_id"],)).fetchall()
    return [key for _, key in rows], [sid for sid, _ in rows], seeded_at


def pixel_paths(keys: list[str]) -> list[str]:
    """Pixel calls without their event id: each ends in `&id=`, to which the load appends a unique one."""
    paths = []
    for i, (kind, value, currency) in enumerate(CALLS * len(keys)):
        query = f"k={keys[i % len(keys)]}&e={kind}" + (f"&v={value}&c={currency}&o=bench-order" if value else "")
        paths.append(f"/px.gif?{query}&u=https%3A%2F%2Fshop.example.com%2Fthanks&id=")
    return paths


def stored_rows(url: str, sponsor_ids: list[int], since: datetime) -> int:
    return sql_count(url, "SELECT count(*) FROM attribution_events WHERE source = 'pixel' "
                          "AND sponsor_id = ANY(%s) AND ts >= %s", (sponsor_ids, since))


def pixel_endpoint(url: str) -> tuple[Endpoint, datetime]:
    keys, sponsor_ids, seeded_at = seed(url)
    paths = pixel_paths(keys)
    print(f"{len(keys)} sponsors' pixel keys, {len(paths)} call shapes x {len(AGENTS)} agents, e.g. {paths[0]}<id>")
    return Endpoint(
        name="/px.gif pixel", bare_name="bare Flask GIF", script=lua_script(paths, 200, GIF_TYPE, event_ids=True),
        probe=lambda i: (paths[i % len(paths)] + f"probe-{uuid.uuid4().hex}", {"User-Agent": AGENTS[i % len(AGENTS)]}),
        is_hit=lambda status, headers: status == 200 and headers.get("Content-Type") == GIF_TYPE,
        stored_rows=lambda since: stored_rows(url, sponsor_ids, since), stores=RECORD_STORES, answer="GIF"), seeded_at


def main() -> int:
    return run_bench(parse_args(__doc__, "bench_pixel", redis_port=6393), pixel_endpoint)


if __name__ == "__main__":
    sys.exit(main())
