"""Benchmark: no prefix hit is lost when the hit buffer's Redis runs as the README documents (appendonly yes,
appendfsync everysec or always) and is killed with SIGKILL mid-load and restarted, while a drainer process runs
(and is itself SIGKILLed mid-drain and restarted). Checks hits answered 302 == rows stored.

Run from the project root:
    .venv/bin/python bench/bench_hit_durability.py [--fsync everysec,always] [--seconds 20] [--threads 8]
                                                   [--redis-port 6392]

Everything it starts it stops, everything it creates it drops: a fresh PostgreSQL database (bench_durable_<random>),
a dedicated redis-server per fsync mode on --redis-port (refuses a port already in use) with its AOF in a temp dir,
one gunicorn product server per mode (-w 2), one drainer process (ingest.drain_buffer in a loop, as the `ingest`
job runs it, with a 5 s drain-lock timeout so the lock of the killed drainer expires quickly) and a temp dir. The load is plain Python threads with keep-alive connections to 127.0.0.1 (no wrk
needed); every request is bounded in time. A request whose answer was not read (socket error) is counted apart:
the hit may or may not have been recorded.

Timeline per mode: load for --seconds; drainer SIGKILLed at --drainer-kill-at s and restarted 1 s later; Redis
SIGKILLed at --redis-kill-at s (no shutdown, no final fsync) and restarted from its AOF --redis-down-for s later;
after the load a few extra requests let each worker replay its spool; then a final drain; then the count.
"""
from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import redis  # noqa: E402

import bench_prefix as bp  # noqa: E402  (its helpers: seed, database, env)
from local_servers import HOST, Gunicorn, OwnRedis, get, port_open  # noqa: E402
from wrk_load import AGENTS  # noqa: E402
from services.db import Database  # noqa: E402
from services.measurement.ingest import BUFFER_KEY, PROCESSING_KEY, drain_buffer  # noqa: E402



DRAINER = """
import sys, time
sys.path.insert(0, {root!r})
import redis
from services.db import Database
from services.measurement.ingest import drain_buffer
db = Database({url!r})
client = redis.Redis(host={host!r}, port={port}, socket_timeout=2, socket_connect_timeout=0.5)
while True:
    try:
        drain_buffer(db, client, batch=500, lock_timeout=5)
    except redis.RedisError:
        pass  # Redis down: try again shortly (the batch, if any, waits in the processing list)
    time.sleep(0.2)
"""


class Drainer:
    def __init__(self, url: str, port: int, log: Path):
        self.code = DRAINER.format(root=str(ROOT), url=url, host=HOST, port=port)
        self.log = open(log, "a")
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", self.code], cwd=ROOT, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.kill()
        self.log.close()


class Load:
    """Threads sending prefix hits on keep-alive connections; counts the 302s (hits the app vouched for)."""

    def __init__(self, port: int, paths: list[str], threads: int):
        self.port, self.paths, self.threads = port, paths, threads
        self.ok = [0] * threads
        self.other = [0] * threads
        self.unknown = [0] * threads  # sent, answer not read: may or may not be recorded
        self.stop = threading.Event()
        self.workers = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, i: int) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
        n = i * 7919
        while not self.stop.is_set():
            n += 1
            path = self.paths[n % len(self.paths)]
            try:
                conn.request("GET", path, headers={"User-Agent": AGENTS[n % len(AGENTS)]})
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                self.unknown[i] += 1
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
                continue
            if resp.status == 302:
                self.ok[i] += 1
            else:
                self.other[i] += 1
        conn.close()

    def start(self) -> None:
        for w in self.workers:
            w.start()

    def finish(self) -> None:
        self.stop.set()
        for w in self.workers:
            w.join(timeout=30)


def run_mode(args, fsync: str, tmp: Path, url: str, paths: list[str], podcast_ids: list[int]) -> dict:
    own = OwnRedis(args.redis_port, tmp / f"redis-{fsync}", fsync)
    instance = tmp / f"instance-{fsync}"
    instance.mkdir()
    events: dict[str, float] = {}
    product = drainer = None
    try:
        own.start()
        since = datetime.now(timezone.utc)
        product = Gunicorn(f"product-{fsync}", "app:create_app()", bp.app_env(url, own.port, instance), tmp)
        product.wait_ready()
        drainer = Drainer(url, own.port, tmp / f"drainer-{fsync}.log")
        drainer.start()
        load = Load(product.port, paths, args.threads)
        t0 = time.monotonic()
        load.start()
        buffered_before_kill = None
        while time.monotonic() - t0 < args.seconds:
            now = time.monotonic() - t0
            if "drainer killed" not in events and now >= args.drainer_kill_at:
                drainer.kill()
                events["drainer killed"] = now
            if "drainer killed" in events and "drainer restarted" not in events and now >= args.drainer_kill_at + 1:
                drainer.start()
                events["drainer restarted"] = now
            if "redis killed" not in events and now >= args.redis_kill_at:
                try:
                    buffered_before_kill = own.client.llen(BUFFER_KEY) + own.client.llen(PROCESSING_KEY)
                except redis.RedisError:
                    pass
                own.kill()
                events["redis killed"] = time.monotonic() - t0
            if "redis killed" in events and "redis restarted" not in events and \
                    now >= args.redis_kill_at + args.redis_down_for:
                own.start()
                events["redis restarted"] = time.monotonic() - t0
                events["after restart: buffered"] = own.client.llen(BUFFER_KEY) + own.client.llen(PROCESSING_KEY)
            time.sleep(0.02)
        load.finish()
        # A few more hits so each gunicorn worker reaches Redis again and replays its spool.
        spool = instance / "spool" / "hits.jsonl"
        extra = 0
        for i in range(40):
            status, _, _ = get(product.port, paths[i % len(paths)], {"User-Agent": AGENTS[0]})
            extra += status == 302
            if i >= 8 and not (spool.exists() and spool.stat().st_size):
                break
        left_in_spool = spool.read_bytes().count(b"\n") if spool.exists() else 0
    finally:
        if product is not None:
            product.stop()
        if drainer is not None:
            drainer.stop()
    db = Database(url)
    drained, started = 0, time.perf_counter()
    while time.perf_counter() - started < 60:  # a killed drainer's lock expires within its 5 s timeout
        drained += drain_buffer(db, own.client, batch=500, lock_timeout=5)
        if own.client.llen(BUFFER_KEY) + own.client.llen(PROCESSING_KEY) == 0:
            break
        time.sleep(0.2)
    drain_s = time.perf_counter() - started
    leftover = own.client.llen(BUFFER_KEY) + own.client.llen(PROCESSING_KEY)
    db.dispose()
    own.stop()
    ok, other, unknown = sum(load.ok), sum(load.other), sum(load.unknown)
    sent = ok + extra
    rows = bp.stored_rows(url, podcast_ids, since)
    print(f"appendfsync {fsync}: {ok:,} hits answered 302 in {args.seconds} s ({ok / args.seconds:,.0f}/s from "
          f"{args.threads} threads) + {extra} extra = {sent:,}; other status {other}, unanswered (unknown) {unknown}")
    print("  events: " + ", ".join(f"{k} {v:.1f} s" if isinstance(v, float) else f"{k} {v}" for k, v in events.items())
          + f"; buffer + processing held {buffered_before_kill} hits just before the kill")
    print(f"  spool left after extra requests {left_in_spool}; final drain stored {drained:,} in {drain_s:.1f} s; "
          f"left in Redis {leftover}")
    lost = sent - rows
    verdict = "OK (no hit lost, none doubled)" if lost == 0 else (
        f"LOST {lost:,}" if lost > 0 else f"{-lost:,} MORE rows than 302s (a request answered but its answer unread?)")
    if unknown and 0 <= rows - sent <= unknown:
        verdict = f"OK within the {unknown} unanswered requests (rows - 302s = {rows - sent})"
    print(f"  hits answered 302 {sent:,}, rows stored {rows:,} -> {verdict}", flush=True)
    return {"fsync": fsync, "sent": sent, "rows": rows, "lost": lost, "unknown": unknown}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fsync", default="everysec,always", help="comma-separated appendfsync modes to run")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--redis-kill-at", type=float, default=8)
    parser.add_argument("--redis-down-for", type=float, default=3)
    parser.add_argument("--drainer-kill-at", type=float, default=4)
    parser.add_argument("--redis-port", type=int, default=6392)
    args = parser.parse_args()
    if port_open(args.redis_port):
        sys.exit(f"something already listens on {HOST}:{args.redis_port}; not ours, pick another --redis-port")
    tmp = Path(tempfile.mkdtemp(prefix="bench_durable_"))
    dbname = f"bench_durable_{uuid.uuid4().hex[:10]}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"
    results = []
    try:
        bp.create_database(dbname)
        print(f"database {dbname}, temp dir {tmp}; {os.cpu_count()} CPUs, load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        paths, podcast_ids, _ = bp.seed(url)
        for fsync in args.fsync.split(","):
            results.append(run_mode(args, fsync.strip(), tmp, url, paths, podcast_ids))
        print("SUMMARY " + "; ".join(f"appendfsync {r['fsync']}: {r['rows']:,} stored of {r['sent']:,} answered 302 "
                                     f"(lost {r['lost']:,})" for r in results))
    finally:
        bp.drop_database(dbname)
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"cleaned up: dropped {dbname}, removed {tmp}", flush=True)
    return 0 if all(r["lost"] <= 0 for r in results if r["fsync"] == "always") else 1


if __name__ == "__main__":
    sys.exit(main())
