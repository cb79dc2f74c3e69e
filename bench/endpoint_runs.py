"""The runs bench_prefix.py and bench_pixel.py share: a throwaway database and Redis, bare and product gunicorn
side by side (alternating wrk rounds, a latency sweep), then a Redis SIGKILL mid-load, each ending with a drain and
a count of the rows stored against the answers sent.

An `Endpoint` says what differs: the wrk script, which answer counts as a hit, how a single probe request looks,
how to count the stored rows and which record stores the drain needs."""
from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from services.db import Database  # noqa: E402
from services.measurement.ingest import BUFFER_KEY, drain_buffer  # noqa: E402

from local_servers import HOST, Gunicorn, OwnRedis, get, port_open  # noqa: E402
from wrk_load import TAIL_SECONDS, parse_wrk, print_wrk, run_wrk  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
MAX_DRAIN_ROUNDS = 1000  # drain_buffer moves everything per call; this only bounds a pathological loop
RATIO_TARGET = 0.8  # product throughput / bare throughput, same run (the target)
P99_TARGET_MS = 10.0  # product p99 at the sweep's first connection count (4)


@dataclass
class Endpoint:
    """What one bench measures. `probe(i)` is the i-th single request (path, headers) the outage prober sends;
    `is_hit(status, headers)` says whether an answer counts as a hit sent; `stored_rows(since)` counts them stored."""
    name: str  # e.g. "/e/ prefix"
    bare_name: str  # e.g. "bare Flask 302"
    script: str  # the wrk Lua (wrk_load.lua_script)
    probe: Callable[[int], tuple[str, dict]]
    is_hit: Callable[[int, dict], bool]
    stored_rows: Callable[[datetime], int]
    stores: dict | None = None  # record stores the drain needs (kind -> store), None for prefix hits only
    answer: str = "302"  # how the summary names a hit's answer


# --- the database ----------------------------------------------------------------------------------------

def create_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sql_count(url: str, query: str, params: tuple) -> int:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        return conn.execute(query, params).fetchone()[0]


def journal_lines(instance: Path) -> int:
    """Lines in the app's hit journal (journal.JournalSink) and legacy spool: written, shipped or not yet."""
    total = 0
    for path in list((instance / "spool").glob("*.jsonl")) + list((instance / "spool" / "journal").glob("*.jsonl")):
        try:
            total += path.read_bytes().count(b"\n")
        except FileNotFoundError:
            pass
    return total


def drain_all(db: Database, client, stores: dict | None = None) -> tuple[int, float]:
    started = time.perf_counter()
    total = 0
    for _ in range(MAX_DRAIN_ROUNDS):
        n = drain_buffer(db, client, stores=stores)
        total += n
        if n == 0 and client.llen(BUFFER_KEY) == 0:
            break
    return total, time.perf_counter() - started


def app_env(url: str, redis_port: int, instance: Path, port_hint: str = "") -> dict:
    env = dict(os.environ)
    env.update(DATABASE_URL=url, REDIS_URL=f"redis://{HOST}:{redis_port}/0", SECRET_KEY="bench-secret-key-0123456789",
               INSTANCE_PATH=str(instance), LOG_LEVEL="WARNING", PUBLIC_BASE_URL=f"http://{HOST}{port_hint}")
    env.pop("TRUSTED_PROXIES", None)
    return env


def bare_server(tmp: Path) -> Gunicorn:
    return Gunicorn("bare", "bare_redirect:create_app()", dict(os.environ), tmp, pythonpath=str(ROOT / "bench"))


# --- the runs ----------------------------------------------------------------------------------------------

def steady_runs(args, tmp: Path, url: str, ep: Endpoint, seeded_at: datetime, own_redis: OwnRedis,
                db: Database) -> dict:
    """Warm-ups, then rounds of (bare run, product run) until the product runs have sent the target hit count,
    then the latency sweep; then drain and check rows == hits sent."""
    script = tmp / "load.lua"
    script.write_text(ep.script)
    instance = tmp / "instance-steady"
    instance.mkdir()
    bare = bare_server(tmp)
    product = Gunicorn("product", "app:create_app()", app_env(url, own_redis.port, instance), tmp)
    hits_sent = 0
    results = []
    t, c = args.threads, args.connections
    try:
        bare.wait_ready()
        product.wait_ready()
        path, headers = ep.probe(0)
        status, answer_headers, _ = get(product.port, path, headers)
        assert ep.is_hit(status, answer_headers), (status, answer_headers)
        hits_sent += 1
        status, answer_headers, _ = get(bare.port, path, headers)
        assert ep.is_hit(status, answer_headers), ("bare", status, answer_headers)
        run_wrk("bare warm-up", bare.port, script, 5, t, c)
        warm = run_wrk("product warm-up", product.port, script, 8, t, c)
        hits_sent += warm.hits_302
        results.append(warm)
        # The host is shared and its load drifts, so bare and product runs alternate in rounds: each round's ratio
        # compares runs a few seconds apart. The product rounds together send >= target_requests hits.
        per_round = int(min(args.max_seconds / args.rounds, max(20, math.ceil(
            args.target_requests / warm.rps * 1.3 / args.rounds) + TAIL_SECONDS)))
        print(f"  product warm-up {warm.rps:,.0f} hits/s -> {args.rounds} rounds of bare {args.bare_seconds} s + "
              f"product {per_round} s (for >= {args.target_requests:,} product hits)", flush=True)
        bares, products = [], []
        for i in range(args.rounds + 2):  # up to two extra rounds if the product fell short of the target
            if i >= args.rounds and sum(r.hits_302 for r in products) >= args.target_requests:
                break
            bares.append(run_wrk(f"{ep.bare_name} #{i + 1}", bare.port, script, args.bare_seconds, t, c))
            print_wrk(bares[-1])
            products.append(run_wrk(f"product {ep.name} #{i + 1}", product.port, script, per_round, t, c))
            print_wrk(products[-1])
            print(f"    round {i + 1}: ratio {products[-1].rps / bares[-1].rps:.2f}; load average "
                  f"{os.getloadavg()[0]:.2f}", flush=True)
        hits_sent += sum(r.hits_302 for r in products)
        results += products
        # Latency sweep: the p99 of a closed loop is about connections / throughput once the 2 workers are
        # saturated, for any app; so both apps run at each connection count, back to back, twice.
        sweep: dict[int, tuple[list, list]] = {}
        for cc in args.sweep:
            for rep_ in range(2):
                b = run_wrk(f"bare -c{cc} #{rep_ + 1}", bare.port, script, args.sweep_seconds, min(t, cc), cc)
                pr = run_wrk(f"product -c{cc} #{rep_ + 1}", product.port, script, args.sweep_seconds, min(t, cc), cc)
                print_wrk(b)
                print_wrk(pr)
                sweep.setdefault(cc, ([], []))[0].append(b)
                sweep[cc][1].append(pr)
                hits_sent += pr.hits_302
                results.append(pr)
        if args.profile:  # after the measured runs, so sampling does not slow them
            profiler = py_spy(args.profile, product, 3, 15, Path(args.profile_dir) / f"{args.prog}_py_spy_steady.txt",
                              args.profile_idle)
            prof = run_wrk("product (py-spy attached)", product.port, script, 23, t, c)
            profiler.join(timeout=90)
            hits_sent += prof.hits_302
            results.append(prof)
            print_wrk(prof)
        buffered = own_redis.client.llen(BUFFER_KEY)
        spool = instance / "spool" / "hits.jsonl"
        spooled = spool.read_text().count("\n") if spool.exists() else 0
    finally:
        product.stop()
        bare.stop()

    journal_left = journal_lines(instance)
    drained, drain_s = drain_all(db, own_redis.client, ep.stores)
    rows = ep.stored_rows(seeded_at)
    written = 1 + sum(r.sent for r in results)
    product_hits = sum(r.hits_302 for r in products)
    product_rps = product_hits / sum(r.window for r in products)
    bare_rps = sum(r.hits_302 for r in bares) / sum(r.window for r in bares)
    ratios = sorted(pr.rps / br.rps for pr, br in zip(products, bares, strict=True))
    ratio = product_rps / bare_rps
    p99s = sorted(r.latency_ms["99"] for r in products)
    print(f"  journal lines left on disk after the product server stopped: {journal_left}")
    print(f"  buffer held {buffered:,} hits ({spooled} spooled); drain_buffer stored {drained:,} in {drain_s:.1f} s "
          f"({drained / max(drain_s, 1e-9):,.0f} hits/s)")
    print(f"  throughput: product {product_rps:,.0f} hits/s ({product_hits:,} hits in {len(products)} runs) / bare "
          f"{bare_rps:,.0f} req/s = {ratio:.2f} (target >= {RATIO_TARGET}); per round "
          f"{', '.join(f'{x:.2f}' for x in ratios)}, median {ratios[len(ratios) // 2]:.2f}")
    print(f"  latency at -c{c}: product p99 per run {', '.join(f'{x:.1f}' for x in p99s)} ms, median "
          f"{p99s[len(p99s) // 2]:.1f} ms; bare p99 median "
          f"{sorted(r.latency_ms['99'] for r in bares)[len(bares) // 2]:.1f} ms (saturated closed loop: not the "
          f"latency target's figure, see the sweep)")
    print("  latency sweep (same wrk script, bare and product back to back, 2 runs each; ms):")
    print(f"    {'conns':>5}  {'bare p50':>8} {'bare p99':>8} {'bare rps':>8}  {'prod p50':>8} {'prod p99':>8} "
          f"{'prod rps':>8}  ratio")
    sweep_p99 = {}
    for cc, (bs, ps) in sweep.items():
        med = lambda rs, k: sorted(r.latency_ms[k] for r in rs)[len(rs) // 2]  # noqa: E731 (upper median of 2)
        b_rps, p_rps = sum(r.hits_302 for r in bs) / sum(r.window for r in bs), \
            sum(r.hits_302 for r in ps) / sum(r.window for r in ps)
        sweep_p99[cc] = max(r.latency_ms["99"] for r in ps)
        print(f"    {cc:>5}  {med(bs, '50'):8.2f} {max(r.latency_ms['99'] for r in bs):8.2f} {b_rps:8,.0f}  "
              f"{med(ps, '50'):8.2f} {sweep_p99[cc]:8.2f} {p_rps:8,.0f}  {p_rps / b_rps:.2f}")
    target_c = args.sweep[0]
    print(f"  latency target figure: product p99 at -c{target_c} (worst of 2 runs) {sweep_p99[target_c]:.2f} ms "
          f"(target <= {P99_TARGET_MS:g} ms)")
    ok = rows == hits_sent
    print(f"  no-loss (steady): hits sent ({ep.answer} answers, all product runs) {hits_sent:,}, rows stored {rows:,} "
          f"-> {'OK' if ok else 'MISMATCH'} (stored - sent = {rows - hits_sent:+,}; request() calls in wrk "
          f"{written:,})", flush=True)
    return {"bare_rps": bare_rps, "product_rps": product_rps, "ratio": ratio, "p99_ms": sweep_p99[target_c],
            "p99_c": target_c, "p99_sat_ms": p99s[len(p99s) // 2],
            "product_hits": product_hits, "hits_sent": hits_sent, "rows": rows, "ok": ok}


def outage_run(args, tmp: Path, url: str, ep: Endpoint, own_redis: OwnRedis, db: Database) -> dict:
    script = tmp / "load.lua"
    instance = tmp / "instance-outage"
    instance.mkdir()
    own_redis.client.flushdb()
    since = datetime.now(timezone.utc)
    product = Gunicorn("product-outage", "app:create_app()", app_env(url, own_redis.port, instance), tmp)
    probe: list[tuple[float, float, bool]] = []  # (seconds since start, latency s, a hit): one request each 50 ms
    events: dict[str, float] = {}
    extra = 0
    try:
        product.wait_ready()
        cmd, wrk = run_wrk("outage", product.port, script, args.outage_seconds, args.threads, args.connections,
                           background=True)
        t0 = time.monotonic()
        profiler = None
        if args.profile:
            profiler = py_spy(args.profile, product, args.down_at + 0.5, args.down_for - 1,
                              Path(args.profile_dir) / f"{args.prog}_py_spy_outage.txt", args.profile_idle)
        stop_probe = threading.Event()

        def prober() -> None:
            i = 0
            while not stop_probe.is_set() and time.monotonic() - t0 < args.outage_seconds + 5:
                i += 1
                path, headers = ep.probe(i)
                try:
                    status, answer_headers, secs = get(product.port, path, headers)
                except OSError:
                    status, answer_headers, secs = 0, {}, float("nan")
                probe.append((time.monotonic() - t0, secs, ep.is_hit(status, answer_headers)))
                stop_probe.wait(0.05)

        probe_thread = threading.Thread(target=prober, daemon=True)
        probe_thread.start()
        max_spooled = 0
        lost_in_redis = None
        deadline = t0 + args.outage_seconds + 60
        while wrk.poll() is None and time.monotonic() < deadline:
            now = time.monotonic() - t0
            if "down" not in events and now >= args.down_at:
                lost_in_redis = own_redis.client.llen(BUFFER_KEY)  # a moment before the crash
                own_redis.kill()  # SIGKILL: the AOF (everysec) is all that survives
                events["down"] = time.monotonic() - t0
            if "down" in events and "up" not in events and now >= args.down_at + args.down_for:
                own_redis.start()
                events["up"] = time.monotonic() - t0
            max_spooled = max(max_spooled, journal_lines(instance))
            time.sleep(0.1)
        if wrk.poll() is None:
            wrk.kill()
        out = wrk.communicate(timeout=30)[0]
        stop_probe.set()
        probe_thread.join(timeout=10)
        if profiler is not None:
            profiler.join(timeout=60)
        result = parse_wrk("product during outage", out)
        left_in_spool = journal_lines(instance)
        # A few more hits after the load (no longer needed to trigger a replay: the shippers retry on their own).
        for i in range(args.extra_requests):
            path, headers = ep.probe(100_000 + i)
            status, answer_headers, _ = get(product.port, path, headers)
            extra += ep.is_hit(status, answer_headers)
    finally:
        product.stop()
    after_extra_spool = journal_lines(instance)

    probe_hits = sum(1 for _, _, hit in probe if hit)
    hits_sent = result.hits_302 + probe_hits + extra
    drained, drain_s = drain_all(db, own_redis.client, ep.stores)
    rows = ep.stored_rows(since)
    print(f"outage run: wrk {args.outage_seconds} s, Redis down at {events.get('down', float('nan')):.1f} s, "
          f"back at {events.get('up', float('nan')):.1f} s")
    print_wrk(result)
    down, up = events.get("down", 0), events.get("up", 0)
    for name, sel in (("before outage", lambda t: t < down), ("Redis down", lambda t: down <= t < up),
                      ("after restart", lambda t: t >= up)):
        lats = sorted(lat * 1000 for t, lat, hit in probe if sel(t) and hit)
        bad = sum(1 for t, _, hit in probe if sel(t) and not hit)
        if lats:
            print(f"  probe {name:<14} {len(lats):4d} hits  median {lats[len(lats) // 2]:7.2f} ms  "
                  f"p99 {lats[min(len(lats) - 1, int(len(lats) * 0.99))]:7.2f} ms  max {lats[-1]:7.2f} ms  "
                  f"non-{ep.answer} {bad}")
    print(f"  journal (shipped or not) on disk: peak {max_spooled:,} lines during the run, {left_in_spool:,} when "
          f"wrk ended, {after_extra_spool:,} after {extra} extra requests and the server's stop")
    print(f"  buffer held {lost_in_redis if lost_in_redis is not None else '?'} hits just before Redis was SIGKILLed "
          f"(restarted from its AOF, appendfsync everysec)")
    print(f"  drained {drained:,} in {drain_s:.1f} s")
    ok = rows == hits_sent
    print(f"  no-loss (outage): hits sent ({ep.answer} answers: wrk {result.hits_302:,} + probe {probe_hits:,} + extra "
          f"{extra}) = {hits_sent:,}, rows stored {rows:,} -> {'OK' if ok else 'MISMATCH'} "
          f"(missing {hits_sent - rows:,})", flush=True)
    return {"hits_sent": hits_sent, "rows": rows, "ok": ok, "lost_in_redis": lost_in_redis,
            "p99_ms": result.latency_ms["99"], "rps": result.rps}


def py_spy(py_spy_bin: str, product: Gunicorn, delay: float, seconds: float, out: Path,
           idle: bool = False) -> threading.Thread:
    """Sample one gunicorn worker with py-spy (raw collapsed stacks) for `seconds`, starting after `delay`;
    `idle` also samples the worker while it waits (on a socket, on a lock): wall time rather than CPU time."""
    def run() -> None:
        time.sleep(delay)
        pids = product.worker_pids()
        if not pids:
            return
        try:
            res = subprocess.run([py_spy_bin, "record", "-p", str(pids[0]), "-d", str(max(1, int(seconds))),
                                  "-f", "raw", "-o", str(out), "-r", "200", "--nonblocking"] + (["--idle"] if idle else []),
                                 capture_output=True, text=True, timeout=seconds + 60)
            print(f"  py-spy: worker {pids[0]} sampled {seconds:.0f} s -> {out}" if out.exists()
                  else f"  py-spy failed: {res.stderr.strip()[:300]}", flush=True)
        except Exception as exc:  # a profile is a bonus; never fail the bench on it
            print(f"  py-spy failed: {exc}", flush=True)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# --- the command line ----------------------------------------------------------------------------------------

def parse_args(doc: str, prog: str, redis_port: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--target-requests", type=int, default=110_000, help="product requests in the measured run")
    parser.add_argument("--rounds", type=int, default=4, help="alternating bare/product runs")
    parser.add_argument("--max-seconds", type=int, default=400, help="bound on the product runs' total seconds")
    parser.add_argument("--bare-seconds", type=int, default=15)
    parser.add_argument("--redis-port", type=int, default=redis_port, help="dedicated redis-server started and stopped here")
    parser.add_argument("--sweep", type=lambda v: [int(x) for x in v.split(",")], default=[4, 16, 50],
                        help="connection counts of the latency sweep; the first is the latency target's figure")
    parser.add_argument("--sweep-seconds", type=int, default=10)
    parser.add_argument("--no-outage", action="store_true")
    parser.add_argument("--outage-seconds", type=int, default=20)
    parser.add_argument("--down-at", type=float, default=5.0)
    parser.add_argument("--down-for", type=float, default=5.0)
    parser.add_argument("--extra-requests", type=int, default=10)
    parser.add_argument("--profile", metavar="PY_SPY", help="path of a py-spy binary: sample a worker in the main run")
    parser.add_argument("--profile-idle", action="store_true", help="py-spy --idle: wall time, waits included")
    parser.add_argument("--profile-dir", default="/tmp", help="where the py-spy outputs go (kept after the run)")
    parser.add_argument("--keep-logs", action="store_true", help="copy gunicorn logs to /tmp before cleanup")
    args = parser.parse_args()
    args.prog = prog
    return args


def run_bench(args: argparse.Namespace, prepare: Callable[[str], tuple[Endpoint, datetime]]) -> int:
    """Create the database, let `prepare(url)` seed it and describe the endpoint, run the steady and outage runs,
    print the summary; stop and drop everything. Exit status 1 when hits were lost."""
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    if port_open(args.redis_port):
        sys.exit(f"something already listens on {HOST}:{args.redis_port}; not ours, pick another --redis-port")
    tmp = Path(tempfile.mkdtemp(prefix=f"{args.prog}_"))
    dbname = f"{args.prog}_{uuid.uuid4().hex[:10]}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"
    own_redis = OwnRedis(args.redis_port, tmp)
    db = None
    failed = False
    try:
        create_database(dbname)
        print(f"database {dbname}, temp dir {tmp}, redis {HOST}:{args.redis_port} (dedicated); {os.cpu_count()} CPUs, "
              f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at start", flush=True)
        ep, seeded_at = prepare(url)
        own_redis.start()
        db = Database(url)
        print(f"wrk -t{args.threads} -c{args.connections} --latency, gunicorn --no-control-socket -w 2:", flush=True)
        steady = steady_runs(args, tmp, url, ep, seeded_at, own_redis, db)
        failed |= not steady["ok"]
        if not args.no_outage:
            outage = outage_run(args, tmp, url, ep, own_redis, db)
            failed |= not outage["ok"]
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at end")
        print(f"SUMMARY {ep.name}: product {steady['product_hits']:,} hits at {steady['product_rps']:,.0f} hits/s, "
              f"bare {steady['bare_rps']:,.0f} req/s, "
              f"ratio {steady['ratio']:.2f} (>= {RATIO_TARGET}: {'yes' if steady['ratio'] >= RATIO_TARGET else 'NO'}), "
              f"p99 at -c{steady['p99_c']} {steady['p99_ms']:.2f} ms "
              f"(<= {P99_TARGET_MS:g}: {'yes' if steady['p99_ms'] <= P99_TARGET_MS else 'NO'}; "
              f"at -c{args.connections} median {steady['p99_sat_ms']:.1f} ms), "
              f"steady no-loss {'OK' if steady['ok'] else 'MISMATCH'}"
              + ("" if args.no_outage else f", outage no-loss {'OK' if outage['ok'] else 'MISMATCH'} "
                                           f"({outage['rows']:,} stored of {outage['hits_sent']:,} sent)"))
    finally:
        if args.keep_logs:
            for log in tmp.glob("gunicorn-*.log"):
                shutil.copy(log, Path("/tmp") / f"{args.prog}_{log.name}")
        if db is not None:
            db.dispose()
        own_redis.stop()
        drop_database(dbname)
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"cleaned up: dropped {dbname}, stopped redis :{args.redis_port}, removed {tmp}", flush=True)
    return 1 if failed else 0
