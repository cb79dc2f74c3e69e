"""Benchmark: import a generated 1,000,000-line nginx combined log into PostgreSQL with
services.measurement.log_import.import_log, against a plain psycopg COPY of the same rows as baseline; then the
counting that follows (count_downloads) and the peak RSS of the process that ran both.

Run from the project root:  /work/venv/bin/python bench/bench_log_import.py [--lines N] [--profile] [--day YYYY-MM-DD]

It creates a fresh PostgreSQL database (bench_logimport_<random>) at 127.0.0.1:5432 (user postgres, trust) and a temp
dir, and drops/removes both at the end. The import and the counting run in a spawned child process, so its peak RSS
(resource.getrusage) is theirs, not the seeding's or the generator's. --profile wraps both calls in cProfile and
prints the top functions (the figures of a profiled run are slower; take figures from a run without it).

The log covers the 30 days before --day (default: today, UTC) and the months' hash secrets are fixed before the
import, so the digest it prints (of every imported row but its import id, and of the bad lines reported) is the same
from run to run and from one version of the import to the next: a change that alters what is stored shows there.

Target: >= 250,000 lines/s into PostgreSQL (operations at scale; 100,000 before). The CPU line shows what the
import process and PostgreSQL's processes (the whole server's, from /proc: run it on a quiet server) used: their sum
over the host's CPUs bounds the rate whatever the overlap.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import multiprocessing as mp
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
import psycopg
from counting_floor import server_cpu_seconds

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
OPAWG = ROOT / "services" / "measurement" / "data" / "opawg"
HOST = "media.example.com"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
REFERERS = ["-"] * 12 + ["https://podcasts.apple.com/", "https://open.spotify.com/", "https://www.google.com/",
                         "https://overcast.fm/", "https://pca.st/"]
CLIENT_QUERIES = ["", "", "", "", "", "", "?utm_source=rss", "?_from=podcasts.apple.com", "?source=feed&t=1"]
UNKNOWN_PATHS = ["/robots.txt", "/favicon.ico", "/feed.xml", "/old-show/0001.mp3", "/signal-and-noise/9999.mp3",
                 "/wp-login.php", "/market-hours/cover.jpg", "/the-long-way-round/trailer.mp3", "/", "/index.html"]


# --- generation ------------------------------------------------------------------------------------------

def opawg_agents(rnd: random.Random, n: int = 300) -> list[str]:
    """~300 real agents from the OPAWG examples: mostly apps, some browsers and libraries, a few bots; most
    popular first (the Zipf weights favour the head of the list)."""
    def examples(name: str) -> list[str]:
        data = json.loads((OPAWG / f"{name}.json").read_text())
        return sorted({e for entry in data["entries"] for e in entry.get("examples", []) if e and "\n" not in e})

    apps, browsers, libraries, bots = (examples(x) for x in ("apps", "browsers", "libraries", "bots"))
    head = [a for a in apps if a.startswith(("AppleCoreMedia", "Podcasts/", "Spotify", "Overcast", "PocketCasts",
                                             "Castro", "iTunes"))]
    rnd.shuffle(apps)
    picked = head[:20] + [a for a in apps if a not in head][:240] + rnd.sample(browsers, min(18, len(browsers))) \
        + rnd.sample(libraries, 12) + rnd.sample(bots, 10)
    return [a.replace('"', "'") for a in picked[:n]]


def episode_paths(url: str, tenant_id: int) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT enclosure_url FROM episodes WHERE tenant_id = %s ORDER BY id", (tenant_id,))
        return [u.split(HOST, 1)[1] for (u,) in rows]


def malformed(rnd: random.Random, good: str) -> str:
    kind = rnd.randrange(6)
    if kind == 0:
        return good[: rnd.randint(5, len(good) - 10)]  # truncated write
    if kind == 1:
        return good.replace("/20", "/2x", 1)  # bad date
    if kind == 2:
        return good.replace('HTTP/1.1" ', 'HTTP/1.1" abc ', 1)  # status not a number
    if kind == 3:
        return "".join(rnd.choice("abcdefghij0123456789 -[]\"/:") for _ in range(rnd.randint(10, 120)))
    if kind == 4:
        return good.replace('"', "", 2)  # request not quoted
    return "999.1.2.3" + good[good.index(" "):]  # not an IP address


def generate(path: Path, n_lines: int, paths: list[str], end: int, seed: int = 20240611) -> dict:
    """The log: `n_lines` requests spread over the 30 days before `end` (epoch seconds), the same for the same
    arguments."""
    rnd = random.Random(seed)
    rng = np.random.default_rng(seed)
    agents = opawg_agents(rnd)
    ips = [f"{rnd.choice([3, 24, 31, 45, 52, 62, 77, 81, 91, 104, 151, 176, 185, 203])}.{rnd.randint(0, 255)}."
           f"{rnd.randint(0, 255)}.{rnd.randint(1, 254)}" for _ in range(45_000)]
    ips += [f"2a0{rnd.randint(0, 9)}:{rnd.randint(0, 0xffff):x}:{rnd.randint(0, 0xffff):x}:{rnd.randint(0, 0xffff):x}"
            f"::{rnd.randint(1, 0xffff):x}" for _ in range(5_000)]
    ip_idx = rng.zipf(1.3, n_lines) % len(ips)  # some households listen a lot
    agent_w = 1.0 / np.arange(1, len(agents) + 1) ** 1.1
    agent_idx = rng.choice(len(agents), n_lines, p=agent_w / agent_w.sum())
    ep_w = 1.0 / np.arange(1, len(paths) + 1) ** 0.8  # newer episodes (listed last) more popular
    ep_idx = rng.choice(len(paths), n_lines, p=(ep_w / ep_w.sum())[::-1])
    stamps = np.sort(rng.integers(end - 30 * 86_400, end, n_lines))
    kinds = rng.random(n_lines)  # < 0.01 malformed, < 0.06 unknown path
    statuses = rng.choice(["206", "200", "304", "404"], n_lines, p=[0.72, 0.22, 0.04, 0.02])
    methods = rng.choice(["GET", "HEAD"], n_lines, p=[0.97, 0.03])
    counts = {"malformed": 0, "unknown": 0}
    ts_cache: dict[int, str] = {}
    with path.open("w", encoding="utf-8") as f:
        for i in range(n_lines):
            stamp = int(stamps[i])
            ts = ts_cache.get(stamp)
            if ts is None:
                t = time.gmtime(stamp)
                ts = ts_cache[stamp] = (f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:"
                                        f"{t.tm_min:02d}:{t.tm_sec:02d} +0000")
                if len(ts_cache) > 4096:
                    ts_cache.clear()
            k = kinds[i]
            if 0.01 <= k < 0.06:
                url = rnd.choice(UNKNOWN_PATHS)
                counts["unknown"] += 1
            else:
                url = paths[ep_idx[i]] + CLIENT_QUERIES[i % len(CLIENT_QUERIES)]
            status = statuses[i]
            nbytes = "0" if status == "304" else str(rnd.randint(2, 60_000_000))
            line = (f'{ips[ip_idx[i]]} - - [{ts}] "{methods[i]} {url} HTTP/1.1" {status} {nbytes} '
                    f'"{rnd.choice(REFERERS)}" "{agents[agent_idx[i]]}"')
            if k < 0.01:
                line = malformed(rnd, line)
                counts["malformed"] += 1
            f.write(line + "\n")
    counts["agents"], counts["ips"] = len(agents), len(ips)
    return counts


# --- the database ----------------------------------------------------------------------------------------

def create_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(sa_url: str) -> int:
    from services import demo, migrate
    from services.db import Database

    migrate.upgrade(sa_url)
    db = Database(sa_url, "podcast_worker")  # imports are the workers' work
    started = time.perf_counter()
    result = demo.seed_demo(db, password="bench-password-1")
    db.dispose()
    print(f"seeded demo tenant {result['tenant_id']}: {result['episodes']} episodes, {result['requests']:,} raw "
          f"requests in {time.perf_counter() - started:.1f} s", flush=True)
    return result["tenant_id"]


def fix_hash_secrets(url: str, end: int) -> None:
    """Secrets derived from the month for every month the log can touch, so listener keys repeat run to run."""
    day = dt.datetime.fromtimestamp(end, dt.UTC).date()
    months = sorted({f"{d:%Y-%m}" for d in (day - dt.timedelta(days=k) for k in range(32))})
    with psycopg.connect(url) as conn:
        for month in months:
            conn.execute("INSERT INTO hash_secrets (month, secret, created_at) VALUES (%s, %s, now()) "
                         "ON CONFLICT (month) DO UPDATE SET secret = EXCLUDED.secret",
                         (month, hashlib.sha256(f"bench {month}".encode()).hexdigest()))


# Every column but the surrogate import_id; the sum of per-row hashes does not depend on the order rows are read.
DIGEST_SQL = """SELECT count(*), md5(coalesce(sum(('x' || substr(md5(row(request_uid, ts, tenant_id, podcast_id, source,
    method, status, bytes, range, url, user_agent, referer, listener_key, country, region)::text), 1, 15))::bit(60)::bigint),
    0)::text) FROM download_requests WHERE import_id = %s"""


def rows_digest(url: str, import_id: int) -> str:
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        count, digest = conn.execute(DIGEST_SQL, (import_id,)).fetchone()
    return f"{count}:{digest}"


def report_digest(r: dict) -> str:
    counted = [r["lines"], r["imported"], r["rejected"], r["unmatched"], r["first_day"], r["last_day"], r["errors"]]
    return hashlib.sha256(json.dumps(counted, sort_keys=True).encode()).hexdigest()[:32]


# --- the measured work, in a spawned child --------------------------------------------------------------

def _rss_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _profiled(enabled: bool, label: str, fn, *args, **kwargs):
    if not enabled:
        return fn(*args, **kwargs)
    import cProfile
    import io
    import pstats
    prof = cProfile.Profile()
    result = prof.runcall(fn, *args, **kwargs)
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    print(f"--- cProfile: {label}, top 25 by cumulative time ---")
    stats.sort_stats("cumulative").print_stats(25)
    out2 = io.StringIO()
    pstats.Stats(prof, stream=out2).sort_stats("tottime").print_stats(20)
    print(out.getvalue())
    print(f"--- cProfile: {label}, top 20 by own time ---")
    print(out2.getvalue(), flush=True)
    return result


def child(sa_url: str, tenant_id: int, log_path: str, profile: bool, conn) -> None:
    import logging
    logging.basicConfig(level=logging.WARNING)
    from services.db import Database
    from services.measurement.counting import count_downloads
    from services.measurement.geo import default_locator
    from services.measurement.log_import import import_log
    from services.tenancy import TenantContext

    default_locator()  # loaded before any job, as jobs.worker.preload does in a worker
    rss_before = _rss_mb()
    db = Database(sa_url, "podcast_worker")  # as the workers connect: RLS applies
    ctx = TenantContext(tenant_id=tenant_id, role="owner")
    server0, cpu0 = server_cpu_seconds(), time.process_time()
    started = time.perf_counter()
    report = _profiled(profile, "import_log", import_log, db, ctx, log_path, "combined", host=HOST)
    import_s = time.perf_counter() - started
    import_cpu = time.process_time() - cpu0
    import_server_cpu = None if server0 is None else server_cpu_seconds() - server0
    rss_import = _rss_mb()
    started = time.perf_counter()
    counted = _profiled(profile, "count_downloads", count_downloads, db, tenant_id, report.first_day, report.last_day)
    count_s = time.perf_counter() - started
    rss_count = _rss_mb()
    db.dispose()
    conn.send({"import_s": import_s, "import_cpu": import_cpu, "import_server_cpu": import_server_cpu,
               "lines": report.lines, "imported": report.imported, "rejected": report.rejected,
               "unmatched": report.unmatched, "import_id": report.import_id, "first_day": str(report.first_day),
               "last_day": str(report.last_day), "count_s": count_s, "requests": counted.requests,
               "downloads": counted.downloads, "dropped": dict(counted.dropped), "rss_before": rss_before,
               "rss_import": rss_import, "rss_count": rss_count,
               "errors": report.errors})
    conn.close()


def run_child(sa_url: str, tenant_id: int, log_path: Path, profile: bool, timeout: float) -> dict:
    ctx = mp.get_context("spawn")  # a fresh interpreter: its peak RSS is the import's and the counting's
    parent, kid = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=child, args=(sa_url, tenant_id, str(log_path), profile, kid))
    proc.start()
    kid.close()
    try:
        if not parent.poll(timeout):
            raise RuntimeError(f"import child gave no result within {timeout} s")
        return parent.recv()
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.terminate()  # our own child, by its handle
            proc.join(timeout=10)


# --- the baseline: psycopg COPY of the same rows into a plain table -------------------------------------

COLUMNS = ["request_uid", "ts", "tenant_id", "podcast_id", "source", "import_id", "method", "status", "bytes",
           "range", "url", "user_agent", "referer", "listener_key", "country", "region"]


def copy_baseline(url: str, import_id: int) -> tuple[int, float]:
    """The rows the import wrote, read back into tuples (untimed), then COPYed with write_row into a plain table
    with the same columns (no keys, no indexes, no RLS), committed: the floor for writing those rows."""
    cols = ", ".join(COLUMNS)
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"SELECT {cols} FROM download_requests WHERE import_id = %s", (import_id,)).fetchall()
        conn.execute("CREATE TABLE bench_copy_baseline (LIKE download_requests)")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY bench_copy_baseline ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - started
        copied = conn.execute("SELECT count(*) FROM bench_copy_baseline").fetchone()[0]
    assert copied == len(rows), (copied, len(rows))
    return len(rows), elapsed


def settle_writes(url: str) -> None:
    """Let the setup's writes settle before anything is timed, as on a database in its steady state: the seeded
    tables vacuumed and analysed (else autovacuum takes them on during the import), their pages and the log just
    generated written to disk (else the kernel and the checkpointer do it during the import)."""
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute("VACUUM ANALYZE")
    os.sync()
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=10) as conn:
        conn.execute("CHECKPOINT")


@contextmanager
def seeded_log(prefix: str, lines: int, day: dt.date) -> Iterator[tuple[str, str, int, Path]]:
    """A fresh database (<prefix>_<random>) with the demo tenant and fixed hash secrets, and the generated log of
    `lines` lines over the 30 days before `day`: (url, SQLAlchemy url, tenant id, log path). Both are removed at the
    end."""
    tmp = Path(tempfile.mkdtemp(prefix=f"{prefix}_"))
    dbname = f"{prefix}_{uuid.uuid4().hex[:10]}"
    url = f"postgresql://postgres@127.0.0.1:5432/{dbname}"
    sa_url = url.replace("postgresql://", "postgresql+psycopg://")
    try:
        create_database(dbname)
        print(f"database {dbname}, temp dir {tmp}; {os.cpu_count()} CPUs, load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        tenant_id = seed(sa_url)
        log = tmp / "access.log"
        started = time.perf_counter()
        end = int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())
        counts = generate(log, lines, episode_paths(url, tenant_id), end)
        fix_hash_secrets(url, end)
        print(f"generated {lines:,} lines ({log.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s:"
              f" {counts['agents']} agents, {counts['ips']:,} IPs, {counts['unknown']:,} unknown paths, "
              f"{counts['malformed']:,} malformed lines, the 30 days before {day}", flush=True)
        settle_writes(url)
        yield url, sa_url, tenant_id, log
    finally:
        drop_database(dbname)
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"cleaned up: dropped {dbname}, removed {tmp}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--profile", action="store_true", help="cProfile import_log and count_downloads")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed for import + counting")
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.datetime.now(dt.UTC).date(),
                        help="the log ends at this day's midnight, UTC (default today); fixes the digest")
    args = parser.parse_args()

    with seeded_log("bench_logimport", args.lines, args.day) as (url, sa_url, tenant_id, log):
        r = run_child(sa_url, tenant_id, log, args.profile, args.timeout)
        print(f"import_log    {r['lines']:,} lines in {r['import_s']:6.2f} s = {r['lines'] / r['import_s']:>9,.0f} lines/s "
              f"(target >= 250,000; 100,000 before operations at scale): {r['imported']:,} rows stored, {r['rejected']:,} rejected, {r['unmatched']:,} "
              f"unmatched; days {r['first_day']}..{r['last_day']}")
        print(f"              first rejected lines: {[(e['line'], e['reason']) for e in r['errors'][:3]]}")
        if r["import_server_cpu"] is not None:
            both, cpus = r["import_cpu"] + r["import_server_cpu"], os.cpu_count() or 1
            print(f"CPU           the import process {r['import_cpu']:.2f} CPU-s, PostgreSQL's processes "
                  f"{r['import_server_cpu']:.2f} CPU-s (the whole server's, from /proc): together {both:.2f} CPU-s, so "
                  f"on this host's {cpus} CPUs at least {both / cpus:.2f} s of wall = at most "
                  f"{r['lines'] / (both / cpus):,.0f} lines/s however well the two overlap; the CPUs were "
                  f"{both / (cpus * r['import_s']):.0%} busy with it")
        print(f"digest        rows {rows_digest(url, r['import_id'])}, report {report_digest(r)} "
              f"(--day {args.day}, --lines {args.lines})")
        rows, copy_s = copy_baseline(url, r["import_id"])
        print(f"baseline COPY {rows:,} rows (the import's own rows, pre-built tuples, psycopg write_row) into a plain "
              f"table in {copy_s:6.2f} s = {rows / copy_s:>9,.0f} rows/s")
        print(f"ratio         import time / COPY time = {r['import_s'] / copy_s:.2f}  "
              f"(import {r['imported'] / r['import_s']:,.0f} rows/s vs COPY {rows / copy_s:,.0f} rows/s)")
        print(f"counting      count_downloads {r['first_day']}..{r['last_day']}: {r['requests']:,} raw requests in "
              f"{r['count_s']:6.2f} s = {r['requests'] / r['count_s']:>9,.0f} rows/s -> {r['downloads']:,} downloads; "
              f"dropped {r['dropped']}")
        print(f"peak RSS      child at start {r['rss_before']:.0f} MB, after import {r['rss_import']:.0f} MB, "
              f"after counting {r['rss_count']:.0f} MB (ru_maxrss)")
        print(f"load average  {' '.join(f'{x:.2f}' for x in os.getloadavg())} at end", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
