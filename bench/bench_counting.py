"""Benchmark: the counting job (raw requests -> IAB downloads) on PostgreSQL, against pandas' dedupe as baseline.

Issue targets: >= 200,000 raw rows/s on one core and < 2 GB peak memory, counting 5,000,000 requests over ~90 days.

Run from the project root:
    python bench/bench_counting.py [--rows 5000000] [--days 90] [--episodes 2000] [--listeners 1000000]
                                   [--window calendar|first-touch|last-touch] [--profile /tmp/counting.prof]
                                   [--engine local|dask] [--workers 1,2] [--slab-rows N] [--layout time|shuffled]
                                   [--keep-db]

What it does, in order:
  1. creates a fresh database on 127.0.0.1:5432 (user postgres), runs services.migrate.upgrade(url);
  2. creates a tenant (services.accounts.create_tenant) with podcasts and episodes (enclosure URL, match key,
     length, duration);
  3. generates --rows raw requests over --days days (listening sessions of 1-6 requests: probes, HEADs, ranges,
     304s, bots, tracking-prefix chains, client parameters; ~300 real OPAWG agents; a pool of --listeners listener
     keys), COPYs them into download_requests in chunks, and vacuums the table (as autovacuum would have by then);
     each chunk spans every day, so with --layout time (the default) the table is first rewritten in time order
     (CLUSTER), as ingest leaves it (the prefix journal's drain and a log file's lines arrive in time order); with
     --layout shuffled it stays as generated, every day on every page, so each slab's rows are spread over the
     whole table (the worst case, and this bench's layout before 2026-12-04);
  4. in a separate counting process (started at the outset, while this one is small, so its ru_maxrss is its own),
     times services.measurement.counting.count_downloads(db, tenant, first_day, last_day) on
     services.db.Database(url, "podcast_worker"), then times it again (a recount must leave the downloads and rollups
     unchanged); the peak RSS is reset between runs (/proc/self/clear_refs) so each run reports its own ru_maxrss;
     then empties what counting wrote and times a first count with each slab read, counted and written in turn in
     the count's one session (count_in_session with SerialEngine: how counting ran before it read ahead in a
     second session and counted on a thread), the same-run reference for the pipelined count;
     with --profile a further (recount) run goes under cProfile and the top functions are printed;
  5. baseline in the same run: pandas drop_duplicates over the same number of (episode_id, listener_key, day) rows;
  6. the input/output floor in the same run (bench/counting_floor.py): PostgreSQL alone handing over the raw rows
     and taking the rows the count wrote, the wall-clock bound no counting process can beat on this host; and the
     CPU both sides used (the counting process's, and all PostgreSQL processes' from /proc, so run it on a quiet
     server): their sum over the host's CPUs is a second bound on the count's wall time;
  7. with --engine dask, for each --workers count in turn: starts a distributed.LocalCluster of that many
     single-threaded worker processes on this host (tables loaded on the workers before the clock starts), empties
     what counting wrote, and times count_downloads with the Dask engine over the same days (a first count, like
     the local one it is compared with); its downloads and rollups must equal the local count's;
  8. drops the database (unless --keep-db).

Machine speed drifts, so the ratio to the baseline measured in the same run is the figure to compare.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import os
import resource
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
import pandas as pd
import psycopg

from counting_data import (  # noqa: E402
    LAST_DAY, SEED, RequestGenerator, catalogue, copy_frame, downloads_fingerprint, empty_counts)
from counting_floor import io_floor, print_floor, server_cpu_seconds  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "postgresql://postgres@127.0.0.1:5432/{name}"
APP_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
# --- setup --------------------------------------------------------------------------------------------------------

def setup(url: str, dsn: str, args) -> dict:
    from services import accounts, migrate
    from services.db import Database
    from services.measurement.urls import try_enclosure_match_key
    from services.models import Episode, Podcast

    t0 = time.perf_counter()
    migrate.upgrade(url)
    db = Database(url, "podcast_worker")  # the workers' work: the worker role
    tenant = accounts.create_tenant(db, "bench-counting", "Bench Counting Network")
    if args.window != "calendar":
        accounts.configure_tenant(db, "bench-counting", dedupe_window=args.window)
    rng = np.random.default_rng(SEED)
    cat = catalogue(args.podcasts, args.episodes, rng)
    with db.session(tenant.id) as s:
        podcasts = [Podcast(tenant_id=tenant.id, title=f"Bench Show {p}", prefix_key=f"bench{p}{uuid.uuid4().hex[:12]}",
                            language="en", category="Technology") for p in range(args.podcasts)]
        s.add_all(podcasts)
        s.flush()
        episodes = [Episode(tenant_id=tenant.id, podcast_id=podcasts[r.podcast].id, guid=f"bench-{r.podcast}-{r.number}",
                            title=f"Episode {r.number}", enclosure_url=r.enclosure_url, enclosure_type="audio/mpeg",
                            match_key=try_enclosure_match_key(r.enclosure_url),
                            enclosure_length=None if pd.isna(r.length) else int(r.length),
                            duration_seconds=int(r.duration),
                            published_at=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=int(r.number) * 3))
                    for r in cat.itertuples()]
        s.add_all(episodes)
        s.flush()
        episode_podcast_ids = np.array([e.podcast_id for e in episodes], dtype=np.int64)
        s.commit()
    db.dispose()
    print(f"schema + tenant {tenant.id}: {args.podcasts} podcasts, {len(cat)} episodes "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)

    t0 = time.perf_counter()
    gen = RequestGenerator(cat, episode_podcast_ids, tenant.id, args.days, args.listeners)
    t_gen = time.perf_counter() - t0
    gen_s = copy_s = 0.0
    with psycopg.connect(dsn) as conn:
        conn.execute("SET synchronous_commit TO off")  # load speed only; the data is thrown away afterwards
        left = args.rows
        while left > 0:
            a = time.perf_counter()
            frame = gen.chunk(min(args.chunk, left))
            b = time.perf_counter()
            copy_frame(conn, frame)
            conn.commit()
            gen_s += b - a
            copy_s += time.perf_counter() - b
            left -= len(frame)
            print(f"  {gen.produced:>10,} rows written ({time.perf_counter() - t0:.0f} s)", flush=True)
        # Vacuumed as autovacuum leaves a table long since loaded: otherwise the first pass over the new rows (the
        # count's) pays for their hint bits and the autovacuum their insertion triggers, and the floor, run later,
        # does not.
        conn.autocommit = True
        t_vacuum = time.perf_counter()
        if args.layout == "time":  # rewritten in (tenant, time) order: each chunk above spans every day
            conn.execute("CLUSTER download_requests USING pk_download_requests")
        conn.execute("VACUUM (ANALYZE) download_requests")
        t_vacuum = time.perf_counter() - t_vacuum
        correlation = conn.execute("SELECT correlation FROM pg_stats WHERE tablename = 'download_requests' "
                                   "AND attname = 'ts'").fetchone()[0]
        conn.autocommit = False
        stats = conn.execute(
            "SELECT count(*), count(DISTINCT listener_key), count(DISTINCT url), count(DISTINCT user_agent), "
            "min(ts), max(ts), pg_total_relation_size('download_requests') FROM download_requests").fetchone()
    print(f"generated {gen.produced:,} requests: pools {t_gen:.1f} s, generate {gen_s:.1f} s, COPY {copy_s:.1f} s, "
          f"{'CLUSTER + ' if args.layout == 'time' else ''}VACUUM (ANALYZE) {t_vacuum:.1f} s")
    print(f"  layout {args.layout}: correlation of ts with the rows' order on disk {correlation:.3f}")
    print(f"  distinct listener keys {stats[1]:,}, URLs {stats[2]:,}, user agents {stats[3]:,}; "
          f"ts {stats[4]:%Y-%m-%d} .. {stats[5]:%Y-%m-%d}; table + indexes {stats[6] / 2**30:.2f} GiB")
    return {"tenant_id": tenant.id, "first": (LAST_DAY - timedelta(days=args.days - 1)).isoformat(),
            "last": LAST_DAY.isoformat(), "gen": gen, "rows": gen.produced}


# --- counting (child process) -------------------------------------------------------------------------------------

def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM, which ru_maxrss reads too) so each run's peak is its own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_mb(field: str = "VmHWM") -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def count_child() -> None:
    """Runs in its own interpreter, started before the data is generated: on Linux a process's ru_maxrss starts
    from its parent's peak at exec time, so a child forked from the (large) generating parent would report the
    parent's memory. Reads its job as one JSON line on stdin, prints RESULT <json>."""
    import cProfile
    import pstats

    from services.db import Database
    from services.measurement import counting
    from services.measurement.useragents import default_classifier

    default_classifier()  # load the OPAWG tables before the clock starts (a worker has them loaded)
    line = sys.stdin.readline()
    if not line.strip():
        return  # the parent gave up before counting
    args = argparse.Namespace(**json.loads(line))
    url, dsn = APP_URL.format(name=args.db_name), PG_DB.format(name=args.db_name)
    first, last = date.fromisoformat(args.first), date.fromisoformat(args.last)
    db = Database(url, "podcast_worker")  # the workers' work: the worker role
    if args.slab_rows:
        counting.SLAB_ROWS = args.slab_rows
    out = {"rss_before_mb": rss_mb("VmRSS"), "slab_days": counting.SLAB_DAYS, "slab_rows": counting.SLAB_ROWS,
           "runs": []}
    for label in ("first count", "recount"):
        slabs = []
        t_prev = [time.perf_counter()]

        def progress(_f, message, slabs=slabs, t_prev=t_prev):
            now = time.perf_counter()
            slabs.append((message, now - t_prev[0]))
            t_prev[0] = now

        out["peak_reset"] = reset_peak_rss()
        server0 = server_cpu_seconds()
        cpu0, t0 = time.process_time(), time.perf_counter()
        report = counting.count_downloads(db, args.tenant, first, last, progress=progress)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        server = None if server0 is None else server_cpu_seconds() - server0
        out["runs"].append({"label": label, "seconds": elapsed, "cpu_seconds": cpu, "server_cpu_seconds": server,
                            "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
                            "vmhwm_mb": rss_mb("VmHWM"), "requests": report.requests, "downloads": report.downloads,
                            "dropped": dict(report.dropped), "slabs": slabs,
                            "table": downloads_fingerprint(dsn, args.tenant)})
    out["serial_run"] = serial_run(db, dsn, args.tenant, first, last)
    if args.engine == "dask":
        out["dask_runs"] = dask_runs(args, db, dsn, first, last)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        counting.count_downloads(db, args.tenant, first, last)
        profiler.disable()
        profiler.dump_stats(args.profile)
        buf = io.StringIO()
        stats = pstats.Stats(profiler, stream=buf)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
        out["profile_text"] = buf.getvalue()
    db.dispose()
    print("RESULT " + json.dumps(out, default=str))


class SerialEngine:
    """Counting as it was before it read ahead and counted on a thread: each slab counted inline, between its read
    and its write, so nothing overlaps the database's work (the same-run reference for the pipelined count)."""

    lookahead = 0

    def count(self, count_partition, raw, episodes, window, since):
        counted = count_partition(raw, episodes, window, since)
        return lambda: counted

    def close(self) -> None:
        pass


def serial_run(db, dsn: str, tenant: int, first: date, last: date) -> dict:
    """A first count of the same days with SerialEngine, each slab read in the count's own session."""
    from services.measurement import counting

    empty_counts(dsn)
    reset_peak_rss()
    cpu0, t0 = time.process_time(), time.perf_counter()
    with db.session(tenant, worker=True) as s:  # count_in_session alone: no second session reading ahead
        report = counting.count_in_session(s, tenant, first, last, engine=SerialEngine())
        s.commit()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"seconds": elapsed, "cpu_seconds": cpu, "vmhwm_mb": rss_mb("VmHWM"), "requests": report.requests,
            "downloads": report.downloads, "dropped": dict(report.dropped), "table": downloads_fingerprint(dsn, tenant)}


def dask_runs(args, db, dsn: str, first: date, last: date) -> list[dict]:
    """count_downloads on a Dask engine: a LocalCluster of n single-threaded worker processes for each n in
    args.workers, each a first count of the same days."""
    import dask
    from distributed import Client, LocalCluster

    from services.measurement import counting, engines
    from services.measurement.useragents import default_classifier

    runs = []
    for workers in args.workers:
        with dask.config.set({"distributed.comm.timeouts.connect": "30s"}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                   host="127.0.0.1", death_timeout=60, silence_logs=logging.ERROR)
        try:
            with Client(cluster, timeout=30, set_as_default=False) as client:
                client.wait_for_workers(workers, timeout=120)
                client.run(lambda: default_classifier() and None)  # OPAWG tables loaded, as in the local run
            empty_counts(dsn)
            engine = engines.DaskEngine(cluster.scheduler_address)
            try:
                reset_peak_rss()
                cpu0, t0 = time.process_time(), time.perf_counter()
                report = counting.count_downloads(db, args.tenant, first, last, engine=engine)
                elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            finally:
                engine.close()
            runs.append({"workers": workers, "seconds": elapsed, "cpu_seconds": cpu, "vmhwm_mb": rss_mb("VmHWM"),
                         "requests": report.requests, "downloads": report.downloads,
                         "dropped": dict(report.dropped), "table": downloads_fingerprint(dsn, args.tenant)})
        finally:
            cluster.close(timeout=60)
    return runs


# --- baseline -----------------------------------------------------------------------------------------------------

def baseline(gen: RequestGenerator) -> tuple[float, int, int]:
    """pandas drop_duplicates on (episode_id, listener_key, day) over as many rows as were generated: the rows
    counting reads, with the listener key as the same 32-hex strings (pandas' default string dtype)."""
    episode = np.concatenate(gen.keep_episode).astype(np.int64) + 1
    listener = gen.listener_keys[np.concatenate(gen.keep_listener)]
    day = gen.start + pd.to_timedelta(np.concatenate(gen.keep_day).astype(np.int64), unit="D")
    frame = pd.DataFrame({"episode_id": episode, "listener_key": listener, "day": day})
    t0 = time.perf_counter()
    kept = frame.drop_duplicates(["episode_id", "listener_key", "day"])
    elapsed = time.perf_counter() - t0
    return elapsed, len(frame), len(kept)


# --- main ---------------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--podcasts", type=int, default=40)
    parser.add_argument("--episodes", type=int, default=2_000)
    parser.add_argument("--listeners", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=500_000, help="rows generated and COPYed per chunk")
    parser.add_argument("--window", default="calendar", choices=["calendar", "first-touch", "last-touch"])
    parser.add_argument("--profile", help="also run a recount under cProfile and save the stats here")
    parser.add_argument("--slab-rows", type=int, default=None,
                        help="counting.SLAB_ROWS for this run (default: the product's)")
    parser.add_argument("--engine", default="local", choices=["local", "dask"],
                        help="dask: also count on a Dask LocalCluster for each --workers count (local: the baseline)")
    parser.add_argument("--workers", default="1,2", help="worker processes per Dask run, comma-separated (--engine dask)")
    parser.add_argument("--layout", default="time", choices=["time", "shuffled"],
                        help="time: the table's rows in time order, as ingest appends them (the prefix journal's "
                             "drain, a log file's lines); shuffled: as generated, every day on every page (the "
                             "worst case: each slab's rows spread over the whole table)")
    parser.add_argument("--keep-db", action="store_true", help="leave the database for inspection")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        args.workers = [int(n) for n in args.workers.split(",")]
    except ValueError:
        parser.error(f"--workers: expected whole numbers separated by commas, got {args.workers!r}")
    if not args.workers or min(args.workers) < 1:
        parser.error("--workers: each count must be at least 1")
    if args.rows < 1:
        parser.error("--rows: must be at least 1")
    if args.child:
        count_child()
        return

    # The counting process starts now, while this one is small (see count_child), and waits for its job.
    child = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child"], cwd=ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    name = f"bench_counting_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    print(f"host: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"python {sys.version.split()[0]}, pandas {pd.__version__}, numpy {np.__version__}, psycopg {psycopg.__version__}")
    print(f"database {name}; {args.rows:,} rows over {args.days} days, {args.episodes} episodes, "
          f"{args.listeners:,} listeners, window {args.window}", flush=True)
    try:
        info = setup(APP_URL.format(name=name), PG_DB.format(name=name), args)
        base_s, base_rows, base_kept = baseline(info["gen"])
        del info["gen"]
        print(f"baseline: pandas drop_duplicates of {base_rows:,} (episode_id, listener_key, day) rows in "
              f"{base_s:.2f} s = {base_rows / base_s:,.0f} rows/s ({base_kept:,} kept)", flush=True)

        job = {"db_name": name, "tenant": info["tenant_id"], "first": info["first"], "last": info["last"],
               "profile": args.profile, "engine": args.engine, "workers": args.workers, "slab_rows": args.slab_rows}
        print(f"counting {info['first']} .. {info['last']} in the counting process ...", flush=True)
        stdout, stderr = child.communicate(json.dumps(job) + "\n")
        if child.returncode != 0:
            print(stdout)
            print(stderr, file=sys.stderr)
            raise SystemExit(f"counting failed (exit {child.returncode})")
        result = json.loads(next(line for line in stdout.splitlines() if line.startswith("RESULT "))[7:])
        report(result, base_rows / base_s, args)
        first = result["runs"][0]
        print_floor(io_floor(PG_DB.format(name=name), info["tenant_id"]), first["requests"], first["seconds"],
                    (first["cpu_seconds"], first.get("server_cpu_seconds")))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if args.keep_db:
            print(f"kept database {name}")
        else:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            print(f"dropped database {name}")
        admin.close()


def report(result: dict, baseline_rate: float, args) -> None:
    first, again = result["runs"]
    print(f"counting process RSS before counting (imports, OPAWG tables loaded): {result['rss_before_mb']:.0f} MiB; "
          f"SLAB_DAYS = {result['slab_days']}, SLAB_ROWS = {result['slab_rows']:,}")
    for run in result["runs"]:
        rate = run["requests"] / run["seconds"]
        server = run.get("server_cpu_seconds")
        print(f"{run['label']:>11}: {run['requests']:,} requests -> {run['downloads']:,} downloads in "
              f"{run['seconds']:.2f} s = {rate:,.0f} rows/s wall "
              f"(counting process cpu {run['cpu_seconds']:.2f} s = "
              f"{run['requests'] / run['cpu_seconds']:,.0f} rows/cpu-s"
              f"{'' if server is None else f'; PostgreSQL cpu {server:.2f} s'}) "
              f"[target >= 200,000: {'PASS' if rate >= 200_000 else 'FAIL'}]; "
              f"{rate / baseline_rate:.3f}x the pandas dedupe baseline (baseline {baseline_rate / rate:.0f}x faster)")
        print("             peak memory of the counting process during this run: "
              f"ru_maxrss {run['ru_maxrss_mb']:,.0f} MiB "
              f"(VmHWM {run['vmhwm_mb']:,.0f} MiB) [target < 2 GB: {'PASS' if run['ru_maxrss_mb'] < 2048 else 'FAIL'}]")
        print("             time per slab (SLAB_DAYS days): "
              + ", ".join(f"..{m.split()[-1]} {s:.1f} s" for m, s in run["slabs"])
              + f"; then rollups + commit {run['seconds'] - sum(s for _, s in run['slabs']):.1f} s")
    print("dropped (first count):")
    for reason, count in sorted(first["dropped"].items(), key=lambda kv: -kv[1]):
        print(f"  {count:>10,}  {reason}")
    if not result.get("peak_reset"):
        print("(peak RSS could not be reset between runs: ru_maxrss is cumulative over the child process)")
    same = first["table"] == again["table"] and first["downloads"] == again["downloads"]
    print(f"recount idempotent: {'yes' if same else 'NO'} (downloads table {first['table']} -> {again['table']})")
    serial = result["serial_run"]
    same = serial["table"] == first["table"] and serial["downloads"] == first["downloads"]
    print(f"serial reference (each slab read, counted and written in turn in one session, as before the read-ahead), "
          f"a first count in the same run: {serial['seconds']:.2f} s (cpu {serial['cpu_seconds']:.2f} s, peak "
          f"{serial['vmhwm_mb']:,.0f} MiB); the pipelined first count took {first['seconds'] / serial['seconds']:.2f}x "
          f"its time; identical downloads and rollups: {'yes' if same else 'NO'}")
    if result.get("dask_runs"):
        report_engines(first, result["dask_runs"])
    if "profile_text" in result:
        print(f"\ncProfile of a further recount (saved to {args.profile}):")
        print(result["profile_text"])


def report_engines(local: dict, runs: list[dict]) -> None:
    """The Dask runs against the local engine's first count of the same days, in this run."""
    print(f"engines (same data, same run, each a first count of {local['requests']:,} requests; "
          f"host load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}):")
    print(f"  local, 1 process         : {local['seconds']:8.2f} s = {local['requests'] / local['seconds']:>10,.0f} "
          f"rows/s (baseline)")
    for run in runs:
        same = run["table"] == local["table"] and (run["downloads"], run["dropped"]) == (local["downloads"],
                                                                                        local["dropped"])
        print(f"  dask, {run['workers']} worker process{'es' if run['workers'] > 1 else '  '}: {run['seconds']:8.2f} s = "
              f"{run['requests'] / run['seconds']:>10,.0f} rows/s; {local['seconds'] / run['seconds']:.2f}x the local "
              f"speed; calling process cpu {run['cpu_seconds']:.2f} s, peak {run['vmhwm_mb']:,.0f} MiB; "
              f"downloads and rollups identical to local: {'yes' if same else 'NO'}")
        if not same:
            print(f"    local {local['table']} vs dask {run['table']}")


if __name__ == "__main__":
    main()
