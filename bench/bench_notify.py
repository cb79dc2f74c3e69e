"""Benchmark: domain events to webhook deliveries and in-app notifications, end to end, with 2 RQ workers.

`--events` (default 10,000) `campaign.status_changed` events (a campaign moving to live, whose sponsor has one user)
are recorded through the outbox at a steady `--rate` per second, as services record them. Each is dispatched by the
workflow to the tenant's one webhook endpoint (a local receiver in its own process) and to the in-app channel (the
sponsor user's notification; email is turned off in that user's preferences). Two `python -m jobs.worker notify`
processes do the work, as operators run them.

It prints:
- the time from each event (its occurred_at) to its delivery at the receiver: p50, p95, max;
- deliveries per second while the run lasted, against the receiver's own ceiling, measured first in the same run
  by posting signed requests straight at it from 8 threads;
- exactly-once checks: every event delivered once (distinct webhook-ids = events, no duplicate arrivals), one in-app
  notification per event, and no delivery left failed or pending.
Target (issue): p95 under 5 s, all events delivered exactly once.

Run from the project root:  .venv/bin/python bench/bench_notify.py [--events 10000] [--rate 40] [--redis-db 5]

Everything it makes it removes: a fresh PostgreSQL database (bench_notify_<random>) on 127.0.0.1:5432, Redis db
--redis-db on 127.0.0.1:6379 (flushed before and after), the worker and receiver processes and a temp dir. Every
wait is bounded (--timeout seconds for the run to drain).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
RECEIVER = r'''
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
arrivals, lock = [], threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with lock:
            arrivals.append((self.headers.get("webhook-id"), time.time()))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self):
        with lock:
            body = json.dumps(arrivals).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def do_DELETE(self):
        with lock:
            arrivals.clear()
        self.send_response(204); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
'''


def receiver_ceiling(url: str, requests: int = 3000, threads: int = 8) -> float:
    """Requests per second the receiver answers when posted to directly (signed like a delivery)."""
    from services.notify.webhooks.signing import new_secret, signed_headers

    secret, body = new_secret(), json.dumps({"type": "ceiling", "data": {}})

    def post(n: int) -> None:
        headers = signed_headers([secret], f"msg_ceiling_{n}", int(time.time()), body)
        request = urllib.request.Request(url, data=body.encode(), method="POST", headers=headers)
        urllib.request.urlopen(request, timeout=15).read()

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, range(requests)))
    rate = requests / (time.perf_counter() - started)
    urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=15).read()
    return rate


def seed(db, settings, receiver_url: str) -> tuple[int, int, int]:
    """A tenant with a sponsor, its user (in-app only for status changes), a campaign and one webhook endpoint."""
    from services import accounts
    from services.notify import preferences
    from services.notify.preferences import CHANNELS, KINDS
    from services.notify.webhooks import endpoints
    from services.sponsorship import campaigns, sponsors
    from services.tenancy import TenantContext

    tenant = accounts.create_tenant(db, "bench", "Bench Network")
    owner = TenantContext(tenant.id, "owner")
    sponsor = sponsors.create_sponsor(db, owner, {"name": "Bench Coffee", "industry": "Food"})
    user, _ = accounts.create_user(db, "buyer@bench.test", "bench", "sponsor", password="bench-password-1",
                                   sponsor_id=sponsor.id)
    preferences.save_preferences(db, TenantContext(tenant.id, "sponsor", user_id=user.id, sponsor_id=sponsor.id),
                                 [(k, c) for k in KINDS for c in CHANNELS
                                  if (k, c) != ("campaign.status_changed", "email")])
    today = date.today()
    campaign = campaigns.create_campaign(db, owner, {"sponsor_id": sponsor.id, "name": "Bench launch", "cpm": "20",
                                                     "start_date": today.isoformat(),
                                                     "end_date": (today + timedelta(days=30)).isoformat()})
    endpoints.create_endpoint(db, owner, {"url": receiver_url, "events": ["campaign.status_changed"],
                                          "description": "bench receiver"}, allow_private=True)
    return tenant.id, sponsor.id, campaign.id


def record_events(db, tenant_id: int, sponsor_id: int, campaign_id: int, count: int, rate: float) -> None:
    """`count` campaign.status_changed events at a steady `rate` per second, one transaction each (as services do)."""
    from services.events import outbox

    started = time.perf_counter()
    for n in range(count):
        pause = started + n / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        with db.session(tenant_id) as s:
            outbox.record(s, tenant_id, "campaign.status_changed",
                          {"campaign_id": campaign_id, "name": "Bench launch", "sponsor_id": sponsor_id,
                           "from": "approved", "to": "live", "n": n})
            s.commit()


def _wait_for_workers(client: redis.Redis, count: int, timeout: float = 60) -> None:
    """Until `count` workers have registered (they import the product first), so the run measures work, not start."""
    from rq import Worker

    deadline = time.monotonic() + timeout
    while len(Worker.all(connection=client)) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"the {count} workers did not start within {timeout:g} s")
        time.sleep(0.2)


def _sql(url: str, query: str):
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=40.0, help="events recorded per second")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--in-process", action="store_true", help="workers run jobs in process (jobs.worker --in-process)")
    parser.add_argument("--redis-db", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds the queue may take to drain")
    args = parser.parse_args()

    from jobs import context
    from services import migrate
    from services.db import Database
    from services.settings import load_settings

    name = f"bench_notify_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    pg = f"postgresql://postgres@127.0.0.1:5432/{name}"
    url = pg.replace("postgresql://", "postgresql+psycopg://")
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}?socket_connect_timeout=5&socket_timeout=30"
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    processes: list[subprocess.Popen] = []
    tmp = tempfile.TemporaryDirectory()
    try:
        receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
        processes.append(receiver)
        receiver_url = f"http://127.0.0.1:{int(receiver.stdout.readline())}/hooks"
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "INSTANCE_PATH": tmp.name,
               "SECRET_KEY": "bench-notify-" + "k" * 20, "WEBHOOK_ALLOW_PRIVATE": "true",
               "LOG_LEVEL": "INFO" if os.environ.get("BENCH_SHOW_WORKER_LOG") else "WARNING",
               "PYTHONPATH": str(ROOT)}
        settings = load_settings({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "INSTANCE_PATH", "SECRET_KEY",
                                                      "WEBHOOK_ALLOW_PRIVATE", "LOG_LEVEL")})
        migrate.upgrade(url)
        db = Database(url, settings.db_app_role)
        context.set_settings(settings)
        context.set_db(db)  # commits that record events enqueue the dispatcher, as in the web process
        tenant_id, sponsor_id, campaign_id = seed(db, settings, receiver_url)
        ceiling = receiver_ceiling(receiver_url)
        print(f"receiver ceiling: {ceiling:,.0f} requests/s (8 threads posting signed requests straight at it)",
              flush=True)
        for _ in range(args.workers):
            worker = [sys.executable, "-m", "jobs.worker", "notify"] + (["--in-process"] if args.in_process else [])
            processes.append(subprocess.Popen(worker, cwd=ROOT, env=env,
                                              stdout=subprocess.DEVNULL, stderr=open(Path(tmp.name) / "worker.log", "a")))
        _wait_for_workers(client, args.workers)
        started = time.time()
        sweeper_stop = threading.Event()

        def sweep() -> None:  # the scheduler's periodic sweep (every 60 s in production; 5 s here)
            from jobs.events import dispatch_events
            from jobs.queues import enqueue
            while not sweeper_stop.wait(5):
                enqueue(dispatch_events, queue="notify")

        sweeper = threading.Thread(target=sweep, daemon=True)
        sweeper.start()
        record_events(db, tenant_id, sponsor_id, campaign_id, args.events, args.rate)
        recorded = time.time()
        print(f"recorded {args.events:,} events in {recorded - started:.1f} s ({args.events / (recorded - started):.1f}"
              f"/s)", flush=True)
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            done = _sql(pg, "SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FROM webhook_deliveries")[0]
            if done[0] >= args.events:
                break
            time.sleep(1)
        finished = time.time()
        sweeper_stop.set()
        arrivals = json.loads(urllib.request.urlopen(receiver_url, timeout=30).read())
        occurred = {row[0]: row[1].timestamp() for row in _sql(
            pg, "SELECT d.message_id, e.occurred_at FROM webhook_deliveries d JOIN domain_events e ON e.id = d.event_id")}
        statuses = dict(_sql(pg, "SELECT status, count(*) FROM webhook_deliveries GROUP BY 1"))
        if os.environ.get("BENCH_SHOW_WORKER_LOG"):
            print(_sql(pg, "SELECT status, attempts, next_attempt_at, error FROM webhook_deliveries LIMIT 5"))
            print(_sql(pg, "SELECT status, count(*) FROM domain_events GROUP BY 1"))
        notifications = _sql(pg, "SELECT count(*), count(DISTINCT n.event_id) FROM notifications n JOIN domain_events e "
                                 "ON e.id = n.event_id WHERE e.type = 'campaign.status_changed'")[0]
        first_seen: dict[str, float] = {}
        for message_id, at in arrivals:
            first_seen.setdefault(message_id, at)
        latencies = sorted(first_seen[m] - occurred[m] for m in first_seen if m in occurred)
        span = (max(first_seen.values()) - min(first_seen.values())) if first_seen else 0.0
        print(f"events {args.events:,}; receiver got {len(arrivals):,} requests, {len(first_seen):,} distinct "
              f"webhook-ids ({len(arrivals) - len(first_seen)} duplicates); deliveries by status {statuses}; in-app "
              f"notifications {notifications[0]:,} for {notifications[1]:,} events", flush=True)
        if latencies:
            p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
            print(f"event -> delivery: p50 {p(0.5):.2f} s, p95 {p(0.95):.2f} s, max {latencies[-1]:.2f} s, mean "
                  f"{statistics.fmean(latencies):.2f} s", flush=True)
            print(f"deliveries/s over the run: {len(first_seen) / max(span, 1e-9):,.1f} (recording rate "
                  f"{args.rate:g}/s; receiver ceiling {ceiling:,.0f}/s: {len(first_seen) / max(span, 1e-9) / ceiling:.3f}x)"
                  f"; drained {finished - recorded:.1f} s after the last event", flush=True)
        exactly_once = (len(first_seen) == args.events == len(arrivals) and notifications[1] == args.events
                        and notifications[0] == args.events and statuses.get("succeeded") == args.events)
        print(f"target: p95 < 5 s: {'yes' if latencies and p(0.95) < 5 else 'NO'}; exactly once: "
              f"{'yes' if exactly_once else 'NO'}", flush=True)
        db.dispose()
        context.reset()
    finally:
        log = Path(tmp.name) / "worker.log"
        if log.exists() and os.environ.get("BENCH_SHOW_WORKER_LOG"):
            print(log.read_text()[-6000:])
        for proc in processes:
            proc.terminate()
        for proc in processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        client.flushdb()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        tmp.cleanup()


if __name__ == "__main__":
    main()
