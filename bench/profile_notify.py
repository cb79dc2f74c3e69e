"""Profile: where one event's time goes on the notify queue, from dispatch to webhook delivery and in-app notification.

`--events` (default 300) `campaign.status_changed` events are recorded through the outbox (the same tenant, sponsor
user and webhook receiver as bench_notify.py), then one in-process RQ worker (SimpleWorker, as `jobs.worker
--in-process` runs) drains the `notify` queue in burst mode under cProfile, in this process. It prints the wall time
per event, the jobs run per event, and the inclusive time per event of the steps that matter: RQ's own work per job,
the job functions, database transactions and round trips, HTTP, DNS checks, Redis enqueues.

Run from the project root:  .venv/bin/python bench/profile_notify.py [--events 300] [--redis-db 6] [--top 25]

It makes and removes a PostgreSQL database (profile_notify_<random>), flushes Redis db --redis-db before and after,
and starts one receiver process.
"""
from __future__ import annotations

import argparse
import cProfile
import math
import pstats
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import psycopg  # noqa: E402
import redis  # noqa: E402

from bench_notify import PG_ADMIN, RECEIVER, record_events, seed  # noqa: E402

# (label, module path fragment, function name): inclusive time of each, summed over its calls
STEPS = (
    ("rq: one job, all in (Worker.execute_job)", "rq/worker", "execute_job"),
    ("  rq: the job function (Job.perform)", "rq/job", "perform"),
    ("rq: dequeue (Worker.dequeue_job_and_maintain_ttl)", "rq/worker", "dequeue_job_and_maintain_ttl"),
    ("job dispatch_events", "jobs/events", "dispatch_events"),
    ("job handle_event", "jobs/events", "handle_event"),
    ("job deliver_webhook", "jobs/webhooks", "deliver_webhook"),
    ("  handler notify.campaign_live", "services/notify/handlers", "campaign_live"),
    ("  handler webhooks.fan_out", "services/notify/webhooks/__init__", "on_event"),
    ("  create_deliveries", "services/notify/webhooks/deliveries", "create_deliveries"),
    ("  attempt_delivery", "services/notify/webhooks/deliveries", "attempt_delivery"),
    ("  the DNS/SSRF check (check_url)", "services/notify/webhooks/guard", "check_url"),
    ("  the HTTP POST (transport.post)", "services/notify/webhooks/transport", "post"),
    ("  socket connects (create_connection)", "socket", "create_connection"),
    ("redis enqueues (Queue.enqueue_call)", "rq/queue", "enqueue_call"),
    ("database commits (Session.commit)", "sqlalchemy/orm/session", "commit"),
    ("database: tenant scope per transaction (_apply_scope)", "services/db", "_apply_scope"),
    ("database: statements (Connection._execute_context)", "sqlalchemy/engine/base", "_execute_context"),
    ("database: pool checkouts (_ConnectionFairy._checkout)", "sqlalchemy/pool/base", "_checkout"),
)


def step_times(stats: pstats.Stats) -> dict[str, tuple[float, int]]:
    found: dict[str, tuple[float, int]] = {}
    for (filename, _line, func), (_cc, ncalls, _tt, cumtime, _callers) in stats.stats.items():
        for label, fragment, name in STEPS:
            if func == name and fragment in filename.replace("\\", "/"):
                total, calls = found.get(label, (0.0, 0))
                found[label] = (total + cumtime, calls + ncalls)
    return found


def stats_of(profile: cProfile.Profile) -> pstats.Stats:
    return pstats.Stats(profile)


def print_profile(stats: pstats.Stats, events: int, top: int, clock: str) -> None:
    found = step_times(stats)
    print(f"{f'inclusive {clock} time per event (profiled: slower than unprofiled)':58s} {'ms/event':>9s} "
          f"{'calls/event':>12s}")
    for label, _fragment, _name in STEPS:
        total, calls = found.get(label, (0.0, 0))
        print(f"{label:58s} {total / events * 1000:9.2f} {calls / events:12.2f}")
    if top:
        print(f"\ntop {top} functions by own time:")
        stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--redis-db", type=int, default=6)
    parser.add_argument("--top", type=int, default=25, help="also print this many functions by own time (0: none)")
    parser.add_argument("--cpu", action="store_true",
                        help="profile CPU time (time.process_time) instead of wall time: what the worker itself spends")
    parser.add_argument("--no-profile", action="store_true",
                        help="time the burst without cProfile (wall and CPU per event only)")
    args = parser.parse_args()

    from rq import SimpleWorker

    from jobs import context
    from jobs.queues import get_queue
    from jobs.worker import preload
    from services import migrate
    from services.db import Database
    from services.settings import load_settings

    name = f"profile_notify_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    pg = f"postgresql://postgres@127.0.0.1:5432/{name}"
    url = pg.replace("postgresql://", "postgresql+psycopg://")
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}?socket_connect_timeout=5&socket_timeout=30"
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    tmp = tempfile.TemporaryDirectory()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        receiver_url = f"http://127.0.0.1:{int(receiver.stdout.readline())}/hooks"
        env = {"DATABASE_URL": url, "REDIS_URL": redis_url, "INSTANCE_PATH": tmp.name,
               "SECRET_KEY": "profile-notify-" + "k" * 20, "WEBHOOK_ALLOW_PRIVATE": "true", "LOG_LEVEL": "WARNING"}
        settings = load_settings(env)
        migrate.upgrade(url)
        db = Database(url, settings.db_app_role)
        context.set_settings(settings)
        context.set_db(db)
        tenant_id, sponsor_id, campaign_id = seed(db, settings, receiver_url)
        preload()
        queue = get_queue("notify", settings)
        client.flushdb()  # the seed's own events: not part of the profile
        record_events(db, tenant_id, sponsor_id, campaign_id, args.events, rate=1e9)
        from jobs.events import dispatch_events
        from jobs.queues import enqueue
        from services.events.dispatch import CLAIM_LIMIT

        for _ in range(math.ceil(args.events / CLAIM_LIMIT)):  # the sweep's part: every event gets handed out
            enqueue(dispatch_events, queue="notify", settings=settings)
        queued = queue.count
        worker = SimpleWorker([queue], connection=client)
        profile = cProfile.Profile(time.process_time) if args.cpu else cProfile.Profile()
        started, cpu = time.perf_counter(), time.process_time()
        if not args.no_profile:
            profile.enable()
        worker.work(burst=True, with_scheduler=False, logging_level="WARNING")
        profile.disable()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        arrivals = len(__import__("json").loads(urllib.request.urlopen(receiver_url, timeout=30).read()))
        with psycopg.connect(pg) as conn:
            done = conn.execute("SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'").fetchone()[0]
            notes = conn.execute("SELECT count(*) FROM notifications").fetchone()[0]
        jobs = queue.finished_job_registry.get_job_count(cleanup=False) + queue.failed_job_registry.get_job_count(
            cleanup=False)
        print(f"{args.events} events ({queued} jobs queued by the recording commits): one in-process worker ran "
              f"{jobs} jobs ({jobs / args.events:.2f} per event) in {wall:.2f} s = {wall / args.events * 1000:.1f} ms "
              f"per event ({args.events / wall:.1f} events/s), worker CPU {cpu / args.events * 1000:.1f} ms per event"
              f"{'' if args.no_profile else ' (profiled)'}; {done} deliveries succeeded, {arrivals} arrivals, "
              f"{notes} notifications", flush=True)
        if not args.no_profile:
            print_profile(stats_of(profile), args.events, args.top, "CPU" if args.cpu else "wall")
        db.dispose()
        context.reset()
    finally:
        receiver.terminate()
        receiver.wait(timeout=15)
        client.flushdb()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        tmp.cleanup()


if __name__ == "__main__":
    main()
