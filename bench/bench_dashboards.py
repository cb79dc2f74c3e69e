"""Benchmark: every dashboard callback's server time on PostgreSQL at 10,000,000 counted downloads and at 100,000.

Issue targets: p95 <= 100 ms per callback at 10M (one tenant, a 90-day range), a 10M/100k ratio <= 2 (the cost follows
the rollups, not the history), and the overview's first full render in headless Chromium under 2 s.

Run from the project root:
    python bench/bench_dashboards.py [--rows 10000000] [--small 100000] [--calls 20] [--no-browser] [--keep-db]
                                     [--reuse SMALL_DB,LARGE_DB]

What it does, for each of the two sizes (--small first, then --rows):
  1. creates a fresh database `bench_dash_<random>` on 127.0.0.1:5432 (user postgres), runs services.migrate.upgrade;
  2. creates 5 tenants (services.accounts) with 8 podcasts each and 2,000 episodes in all, released over the year;
  3. generates the downloads over 365 days with numpy (episode popularity, launch decay, a back catalogue, apps,
     devices, OS, countries, regions, referrers, listener keys; listener flags as services.measurement.store sets
     them) and loads them with COPY (psycopg cursor.copy), per tenant;
  4. refreshes every rollup through services.measurement.store.refresh_tenant, as the counting job does, then ANALYZE;
  5. builds the app (app.create_app) on each database and, inside a request context logged in as an owner of the
     first tenant, calls each dashboard callback function (callbacks/*.py: one service call sequence + figure
     building, exactly what /_dash-update-component runs) --calls times for a 90-day range, alternating between the
     two databases call by call (so load from elsewhere on the machine hits both sizes alike): p50 and p95;
  6. at the largest size, starts the app as a server and times the overview's first full render in headless
     Chromium (login first; then navigation start -> KPI cards and every chart drawn);
  7. drops the databases (unless --keep-db). Prints the table and the 10M/100k ratio of the p95s.
Steps 5's size comparison runs with DASHBOARD_CACHE=off, so it measures the queries. Then, at the largest size, the
same callbacks with the answer cache (DASHBOARD_CACHE=memory), in the same run and alternating call by call: off,
a miss (the tenant's generation bumped before each call: the query plus keying and storing), and a hit.

A quick run (a few minutes): python bench/bench_dashboards.py --rows 1000000 --small 100000 --calls 10 --no-browser
"""
from __future__ import annotations

import argparse
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
import pandas as pd
import psycopg

SERVER = "postgres@127.0.0.1:5432"  # build(server=...) puts the data on another cluster (bench_load.py's own)
PG_ADMIN = f"postgresql://{SERVER}/postgres"
PG_DB = f"postgresql://{SERVER}/{{name}}"
APP_URL = f"postgresql+psycopg://{SERVER}/{{name}}"
SEED = 20261126
TENANTS, PODCASTS_PER_TENANT, EPISODES, DAYS = 5, 8, 2000, 365
PASSWORD = "bench-password-123"
APPS = (("Apple Podcasts", .38), ("Spotify", .25), ("Overcast", .06), ("Pocket Casts", .05), ("Podcast Addict", .05),
        ("YouTube Music", .04), ("Amazon Music", .03), ("Castro", .02), ("Chrome", .04), ("Safari", .02),
        ("Podcast Republic", .02), ("Castbox", .02), ("Apple HomePod", .01), (None, .01))
DEVICES = (("mobile", "iOS", .55), ("mobile", "Android", .28), ("computer", "Windows", .07), ("computer", "macOS", .05),
           ("smart_speaker", "other", .03), ("auto", "other", .01), (None, None, .01))
COUNTRIES = (("US", .48), ("GB", .10), ("CA", .07), ("AU", .06), ("DE", .05), ("IN", .04), ("NL", .03), ("IE", .02),
             ("NZ", .02), ("SE", .02), ("FR", .03), ("BR", .03), ("ES", .02), ("MX", .02), ("JP", .01))
US_REGIONS = ("CA", "NY", "TX", "FL", "WA", "IL", "MA", "CO", "GA", "OR", "PA", "OH", "NC", "MI")
REFERRERS = (("unknown", .9), ("web", .06), ("newsletter", .04))
COLUMNS = ["ts", "tenant_id", "episode_id", "listener_key", "podcast_id", "app", "device", "os", "country", "region",
           "referrer", "flags"]


def _p(pairs):
    weights = np.array([p[-1] for p in pairs], dtype=float)
    return weights / weights.sum()


def create_database(server: str = SERVER) -> str:
    name = f"bench_dash_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"postgresql://{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str, server: str = SERVER) -> None:
    with psycopg.connect(f"postgresql://{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build_catalog(db, last_day: date):
    """5 tenants x 8 podcasts, 2,000 episodes released over the year (and a little before); an owner per tenant."""
    from services import accounts
    from services.models import Episode, Podcast

    rng = np.random.default_rng(SEED)
    tenants = []
    for t in range(TENANTS):
        tenant = accounts.create_tenant(db, f"bench{t}", f"Bench Network {t}")
        accounts.create_user(db, f"owner{t}@bench.test", f"bench{t}", "owner", password=PASSWORD)
        tenants.append(tenant.id)
    per_tenant = EPISODES // TENANTS
    catalog = []
    for tenant_id in tenants:
        with db.session(tenant_id) as s:
            shows = [Podcast(tenant_id=tenant_id, title=f"Show {tenant_id}-{i}", prefix_key=uuid.uuid4().hex[:12])
                     for i in range(PODCASTS_PER_TENANT)]
            s.add_all(shows)
            s.flush()
            start = datetime.combine(last_day - timedelta(days=DAYS + 30), datetime.min.time(), tzinfo=UTC)
            offsets = np.sort(rng.uniform(0, (DAYS + 30) * 86400, per_tenant))
            episodes = [Episode(tenant_id=tenant_id, podcast_id=shows[i % PODCASTS_PER_TENANT].id,
                                guid=f"g-{tenant_id}-{i}", title=f"Episode {i} of show {i % PODCASTS_PER_TENANT}",
                                published_at=start + timedelta(seconds=float(offsets[i]))) for i in range(per_tenant)]
            s.add_all(episodes)
            s.flush()
            catalog += [(tenant_id, e.podcast_id, e.id, e.published_at) for e in episodes]
            s.commit()
    frame = pd.DataFrame(catalog, columns=["tenant_id", "podcast_id", "episode_id", "published_at"])
    return tenants, frame


def generate(rng, episodes: pd.DataFrame, rows: int, last_day: date) -> pd.DataFrame:
    """`rows` downloads of these episodes: popular episodes get more; most come in the first days after release."""
    end = pd.Timestamp(last_day + timedelta(days=1), tz="UTC")
    popularity = rng.lognormal(0, 0.8, len(episodes))
    pick = rng.choice(len(episodes), rows, p=popularity / popularity.sum())
    published = episodes["published_at"].to_numpy(dtype="datetime64[us]")[pick]
    age = (end.to_datetime64().astype("datetime64[us]") - published).astype("int64")  # microseconds
    launch = rng.random(rows) < 0.65
    delay = np.where(launch, rng.exponential(2.5 * 86400e6, rows), rng.uniform(0, 1, rows) * age)
    late = delay >= age  # a launch delay past today: somewhere in the episode's life instead
    delay = np.where(late, rng.uniform(0, 1, rows) * age, delay).astype("int64")
    ts = published + delay.astype("timedelta64[us]")
    listeners = rng.integers(0, 400_000, rows)
    country = rng.choice(len(COUNTRIES), rows, p=_p(COUNTRIES))
    codes = np.array([c for c, _ in COUNTRIES], dtype=object)[country]
    region = np.where(codes == "US", np.array(US_REGIONS, dtype=object)[rng.integers(0, len(US_REGIONS), rows)], None)
    device = rng.choice(len(DEVICES), rows, p=_p(DEVICES))
    frame = pd.DataFrame({
        "ts": pd.to_datetime(ts).tz_localize("UTC"),
        "tenant_id": episodes["tenant_id"].to_numpy()[pick],
        "episode_id": episodes["episode_id"].to_numpy()[pick],
        "listener": listeners,
        "podcast_id": episodes["podcast_id"].to_numpy()[pick],
        "app": np.array([a for a, _ in APPS], dtype=object)[rng.choice(len(APPS), rows, p=_p(APPS))],
        "device": np.array([d for d, _, _ in DEVICES], dtype=object)[device],
        "os": np.array([o for _, o, _ in DEVICES], dtype=object)[device],
        "country": codes, "region": region,
        "referrer": np.array([r for r, _ in REFERRERS], dtype=object)[rng.choice(len(REFERRERS), rows, p=_p(REFERRERS))],
    })
    return frame[frame["ts"] < end]


def flags(frame: pd.DataFrame) -> np.ndarray:
    """FIRST_PODCAST_DAY / FIRST_EPISODE_DAY / FIRST_PODCAST_HOUR as store.listener_flags sets them, on integer keys."""
    from services.models import FIRST_EPISODE_DAY, FIRST_PODCAST_DAY, FIRST_PODCAST_HOUR

    order = np.argsort(frame["ts"].to_numpy(), kind="stable")
    ts = frame["ts"].dt.tz_convert(None).to_numpy()[order].astype("datetime64[h]").astype("int64")
    day, listener = ts // 24, frame["listener"].to_numpy()[order]
    podcast, episode = frame["podcast_id"].to_numpy()[order], frame["episode_id"].to_numpy()[order]
    out = np.zeros(len(frame), dtype=np.int16)
    for bit, keys in ((FIRST_PODCAST_DAY, (podcast, listener, day)), (FIRST_EPISODE_DAY, (episode, listener, day)),
                      (FIRST_PODCAST_HOUR, (podcast, listener, ts))):
        first = ~pd.DataFrame({str(i): k for i, k in enumerate(keys)}).duplicated().to_numpy()
        out[order[first]] += bit
    return out


def load(dsn: str, frame: pd.DataFrame, chunk: int = 1_000_000) -> None:
    frame = frame.assign(listener_key=frame["listener"].map("{:032x}".format), flags=flags(frame))
    frame = frame.sort_values("ts")[COLUMNS]
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY downloads ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv)") as copy:
            for start in range(0, len(frame), chunk):
                buf = io.StringIO()
                frame.iloc[start:start + chunk].to_csv(buf, header=False, index=False,
                                                       date_format="%Y-%m-%d %H:%M:%S.%f+00")
                copy.write(buf.getvalue())
        conn.commit()


def build(rows: int, last_day: date, server: str = SERVER) -> tuple[str, list[int]]:
    """A fresh database on `server` (user@host:port, trust auth) with the data; (its name, the tenant ids)."""
    from services import migrate
    from services.db import Database
    from services.measurement import store

    name = create_database(server)
    url, dsn = f"postgresql+psycopg://{server}/{name}", f"postgresql://{server}/{name}"
    t0 = time.perf_counter()
    migrate.upgrade(url)
    db = Database(url, "podcast_worker")  # builds as the workers do: the worker role writes the time series
    tenants, episodes = build_catalog(db, last_day)
    rng = np.random.default_rng(SEED + rows)
    t1 = time.perf_counter()
    for tenant_id in tenants:  # per tenant: bounded memory
        mine = episodes[episodes["tenant_id"] == tenant_id].reset_index(drop=True)
        load(dsn, generate(rng, mine, rows // len(tenants), last_day))
    t2 = time.perf_counter()
    for tenant_id in tenants:
        with db.session(tenant_id) as s:
            store.refresh_tenant(s, tenant_id)
            s.commit()
    t_insights = time.perf_counter()
    run_insights_jobs(db, tenants[0])  # what counting queues after a count: the timed tenant's stored insights
    insights_seconds = time.perf_counter() - t_insights
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        count = conn.execute("SELECT count(*) FROM downloads").fetchone()[0]
        sizes = conn.execute("SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE relname LIKE '%metrics' "
                             "ORDER BY relname").fetchall()
    t3 = time.perf_counter()
    db.dispose()
    print(f"[{rows:,}] database {name}: {count:,} downloads; catalog+migrate {t1 - t0:.1f}s, generate+COPY "
          f"{t2 - t1:.1f}s, rollups refresh {t3 - t2 - insights_seconds:.1f}s, insights jobs (forecasts, anomalies, "
          f"summaries; one tenant) {insights_seconds:.1f}s", flush=True)
    print("    rollup rows: " + ", ".join(f"{n.replace('_metrics', '')}={c:,}" for n, c in sizes), flush=True)
    return name, tenants


def run_insights_jobs(db, tenant_id: int) -> None:
    """The jobs counting queues after a count, run here in-process: forecasts, then anomalies and summaries."""
    from services.insights import anomaly_store, forecast_store, summaries

    forecast_store.refresh_tenant_forecasts(db, tenant_id)
    anomaly_store.detect_and_store(db, tenant_id)
    summaries.refresh_tenant_summaries(db, tenant_id)


def callbacks_to_time(episode_id: int, compare: list[int], podcast_id: int):
    """(name, zero-argument call) for each dashboard callback, for a 90-day range over all the tenant's podcasts."""
    from callbacks import audience, episode, episodes, insights, overview

    controls = ("90d", None, None, "previous", None, "day")
    return [
        ("overview: KPI cards", lambda: overview.update_kpis(*controls)),
        ("overview: downloads over time", lambda: overview.update_timeline(*controls)),
        ("overview: top episodes/apps/countries", lambda: overview.update_tops(*controls)),
        ("episodes: grid", lambda: episodes.update_grid(*controls)),
        ("episode: launch curves (+2 compared)", lambda: episode.update_launch(episode_id, compare)),
        ("episode: apps/devices/countries", lambda: episode.update_breakdowns(episode_id, *controls)),
        ("audience: world map", lambda: audience.update_map(*controls)),
        ("audience: regions (US)", lambda: audience.update_regions("US", *controls)),
        ("audience: apps/devices/OS/referrers", lambda: audience.update_tech(*controls)),
        ("audience: weekday x hour heatmap", lambda: audience.update_heatmap(*controls)),
        ("insights: summary + anomalies", lambda: insights.update_insights(*controls)),
        ("overview: this week summary", lambda: insights.week_summary(None)),
        ("podcast: forecast (next 8 weeks)", lambda: overview.update_forecast(podcast_id)),
    ]


def time_callbacks(names: list[str], calls: int,
                   caches: list[tuple[str, bool]] | None = None) -> list[dict[str, tuple[float, float]]]:
    """p50 and p95 (ms) per callback per target. The targets' calls alternate (small, large, small, ...), so a
    burst of load from elsewhere on the machine lands on all alike rather than skewing their ratio. `caches`: per
    target, (DASHBOARD_CACHE, bump the tenant's generation before each call); default: the cache off."""
    from flask_login import login_user
    from sqlalchemy import select, text

    from api.auth import SessionUser
    from app import create_app
    from services.models import User
    from services.settings import load_settings

    targets = []
    with tempfile.TemporaryDirectory() as instance:
        for name, (cache, bump) in zip(names, caches or [("off", False)] * len(names)):
            settings = load_settings({"INSTANCE_PATH": instance, "SECRET_KEY": "bench-secret-key-0123456789",
                                      "LOG_LEVEL": "WARNING", "DATABASE_URL": APP_URL.format(name=name),
                                      "DASHBOARD_CACHE": cache})
            server = create_app(settings)
            db = server.extensions["podcast_platform"].db
            with db.session(system=True) as s:
                user = s.scalar(select(User).where(User.email == "owner0@bench.test"))
                tenant_id = s.execute(text("SELECT id FROM tenants WHERE slug = 'bench0'")).scalar()
                recent = s.execute(text("SELECT id FROM episodes WHERE tenant_id = :t ORDER BY published_at DESC "
                                        "LIMIT 3 OFFSET 20"), {"t": tenant_id}).scalars().all()
                podcast_id = s.execute(text("SELECT podcast_id FROM episodes WHERE id = :e"), {"e": recent[0]}).scalar()
            targets.append((server, db, user, callbacks_to_time(recent[0], recent[1:], podcast_id), tenant_id, bump))
        results: list[dict] = [{} for _ in targets]
        for index, (label, _call) in enumerate(targets[0][3]):
            samples: list[list[float]] = [[] for _ in targets]
            for _ in range(calls + 2):
                for which, (server, db, user, calls_of, tenant_id, bump) in enumerate(targets):
                    if bump:
                        db.cache.bump(tenant_id)
                    with server.test_request_context("/_dash-update-component", method="POST"):
                        login_user(SessionUser(user.id, user.email, user.name))
                        t = time.perf_counter()
                        calls_of[index][1]()
                        samples[which].append((time.perf_counter() - t) * 1000)
            for which, values in enumerate(samples):
                values = values[2:]  # the first two warm caches (plans, imports)
                results[which][label] = (statistics.median(values), float(np.percentile(values, 95)))
        for target in targets:
            target[1].dispose()
    return results


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_first_render(name: str, runs: int = 3) -> list[float]:
    """Seconds from navigation start to the overview fully drawn (KPI cards, every chart), after logging in."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    instance = tempfile.mkdtemp()
    env = {**os.environ, "DATABASE_URL": APP_URL.format(name=name), "INSTANCE_PATH": instance,
           "SECRET_KEY": "bench-secret-key-0123456789", "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    code = ("from app import create_app; s = create_app(); "
            f"s.run(host='127.0.0.1', port={port}, threaded=True)")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                import urllib.request
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(f"{base}/login")
            page.fill("#email", "owner0@bench.test")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            page.wait_for_selector("#overview-downloads-chart .barlayer .point", timeout=60_000)
            seconds = []
            for _ in range(runs):
                page.goto(f"{base}/?range=90d", wait_until="commit")
                page.wait_for_function(
                    "document.querySelectorAll('.kpi-card').length === 5"
                    " && document.querySelectorAll('#overview-downloads-chart .barlayer .point').length === 90"
                    " && ['overview-top-episodes', 'overview-top-apps', 'overview-top-countries'].every("
                    "  id => document.querySelectorAll('#' + id + ' .barlayer .point').length > 0)", timeout=60_000)
                seconds.append(page.evaluate("performance.now()") / 1000)
            browser.close()
        return seconds
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--reuse", metavar="SMALL_DB,LARGE_DB",
                        help="time against two databases a --keep-db run left (sizes as given by --small/--rows)")
    args = parser.parse_args()
    last_day = datetime.now(UTC).date()
    results, names = {}, []
    try:
        if args.reuse:
            timed = args.reuse.split(",")
        else:
            names = [build(rows, last_day)[0] for rows in (args.small, args.rows)]
            timed = names
        results[args.small], results[args.rows] = time_callbacks(timed, args.calls)
        cached = time_callbacks([timed[1]] * 3, args.calls, [("off", False), ("memory", True), ("memory", False)])
        render = None if args.no_browser else time_first_render(timed[1])
    finally:
        if not args.keep_db:
            for name in names:
                drop_database(name)
    small, large = results[args.small], results[args.rows]
    print(f"\nDashboard callbacks, server time in ms over {args.calls} calls: one tenant of 5, 90 days, "
          f"all its podcasts")
    head = f"{'callback':40} {f'{args.small:,} p50':>12} {f'{args.small:,} p95':>12} " \
           f"{f'{args.rows:,} p50':>14} {f'{args.rows:,} p95':>14} {'p95 ratio':>10}"
    print(head)
    print("-" * len(head))
    for label in large:
        (sp50, sp95), (lp50, lp95) = small[label], large[label]
        print(f"{label:40} {sp50:12.1f} {sp95:12.1f} {lp50:14.1f} {lp95:14.1f} {lp95 / sp95:10.2f}")
    worst = max(large.values(), key=lambda v: v[1])[1]
    ratio = max(large[k][1] / small[k][1] for k in large)
    print(f"\nworst p95 at {args.rows:,}: {worst:.1f} ms (target <= 100); worst p95 ratio {args.rows:,}/{args.small:,}: "
          f"{ratio:.2f} (target <= 2)")
    print(f"\nThe answer cache at {args.rows:,} downloads, same run, ms over {args.calls} calls (p50 / p95)")
    head = f"{'callback':40} {'cache off':>16} {'miss':>16} {'hit':>16}"
    print(head)
    print("-" * len(head))
    for label in cached[0]:
        print(f"{label:40} " + " ".join(f"{c[label][0]:7.1f} / {c[label][1]:6.1f}" for c in cached))
    total = [sum(c[label][0] for label in c) for c in cached]
    print(f"{'sum of p50s':40} " + " ".join(f"{t:16.1f}" for t in total))
    if render:
        print(f"overview first full render in headless Chromium at {args.rows:,} downloads (90 days): "
              + ", ".join(f"{s:.2f}" for s in render) + f" s (median {statistics.median(render):.2f} s; target < 2 s)")


if __name__ == "__main__":
    main()
