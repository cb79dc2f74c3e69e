"""The faults bench_load.py injects while its load runs, each bounded in time, each printing the prefix hits sent
(302 answers) against the raw requests stored and how long recovery took: PostgreSQL stopped, Redis SIGKILLed,
an RQ worker SIGKILLed mid-count, the journal's disk full."""
from __future__ import annotations

import re
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from rq import Queue, Worker
from rq.job import Job

from load_stack import Stack
from load_traffic import AGENT, PrefixLoad, Recorder
from local_servers import Gunicorn

STORE_WAIT = 240.0  # seconds allowed for the hits of a phase to be stored (the scheduler drains every 30 s)
REDO_WAIT = 240.0  # seconds allowed for RQ to take back a killed worker's job (heartbeat 90 + maintenance <= 60)
REDO_RUN_WAIT = 600.0  # then for the redo to run: the retry's first wait (15 s) and the count itself


def dsn(stack: Stack) -> str:
    return stack.pg.url(stack.db_name).replace("+psycopg", "")


def stored(stack: Stack, phase: str) -> int | None:
    """Raw prefix requests stored with this phase's tag (None while the database does not answer)."""
    try:
        with psycopg.connect(dsn(stack), connect_timeout=3) as conn:
            return conn.execute("SELECT count(*) FROM download_requests WHERE source = 'prefix' AND user_agent = %s",
                                (AGENT.format(phase=phase),)).fetchone()[0]
    except psycopg.Error:
        return None


def wait_stored(stack: Stack, phase: str, sent: int, since: float,
                limit: float = STORE_WAIT) -> tuple[int, float | None]:
    """Wait until every hit sent in `phase` is stored; (stored, seconds from `since` until then, None if never)."""
    deadline = time.monotonic() + limit
    rows = stored(stack, phase) or 0
    while time.monotonic() < deadline:
        rows = stored(stack, phase) or 0
        if rows >= sent:
            return rows, time.monotonic() - since
        time.sleep(1.0)
    return rows, None


def report_hits(name: str, load: PrefixLoad, phase: str, rows: int, recovered: float | None,
                limit: float = STORE_WAIT) -> bool:
    sent, statuses = load.sent[phase], dict(load.statuses[phase])
    ok = rows == sent
    print(f"  [{name}] prefix answers {statuses}; hits sent (302) {sent:,}, stored {rows:,} -> "
          f"{'no loss' if ok else f'MISMATCH ({rows - sent:+,})'}; all stored "
          + (f"{recovered:.1f} s after the fault ended" if recovered is not None else f"NOT within {limit:.0f} s"),
          flush=True)
    return ok and all(s == 302 for s in statuses)


def report_errors(name: str, recorder: Recorder, since: float, until: float) -> int:
    errors = {k: v for k, v in recorder.errors(since, until).items() if not k.startswith("page ")}  # no double count
    total = sum(n for n, _ in errors.values())
    print(f"  [{name}] errors during the fault: {total}" + ("" if not errors else ":"), flush=True)
    for label, (n, text) in sorted(errors.items()):
        print(f"      {label}: {n} x, first: {text!r}", flush=True)
    return total


def report_unavailable(name: str, recorder: Recorder, since: float, until: float) -> None:
    """How many failed dashboard answers were the clear 503 "data temporarily unavailable" (api/unavailable.py)."""
    with recorder.lock:
        bad = [s[3] or "" for label, rows in recorder.samples.items() if not label.startswith(("page ", "prefix"))
               for s in rows if since <= s[0] < until and not s[2]]
    clear = sum(1 for text in bad if text.startswith("HTTP 503") and "temporarily unavailable" in text)
    print(f"  [{name}] failed dashboard answers {len(bad)}: {clear} the clear 503 'data temporarily unavailable', "
          f"{len(bad) - clear} other", flush=True)


def report_processes(name: str, stack: Stack) -> None:
    dead = stack.revive()
    print(f"  [{name}] workers and scheduler: " + (f"EXITED and restarted by the bench: {', '.join(dead)}" if dead
                                                   else "all still running"), flush=True)


def hold(load: PrefixLoad, seconds: float, stop_at: float) -> None:
    """Keep the load running for `seconds` (bounded by the run's own deadline)."""
    end = min(time.monotonic() + seconds, stop_at)
    while time.monotonic() < end and load.is_alive():
        time.sleep(0.2)


def fault_pg(stack: Stack, load: PrefixLoad, recorder: Recorder, down: float, after: float, stop_at: float) -> bool:
    print(f"\nfault pg: pg_ctl stop -m fast, {down:.0f} s down, pg_ctl start; load goes on", flush=True)
    load.phase = "pg"
    hold(load, 5, stop_at)
    t_down = time.monotonic()
    stack.pg.stop("fast")
    hold(load, down, stop_at)
    start_seconds = stack.pg.start()
    t_up = time.monotonic()
    print(f"  PostgreSQL down {t_up - t_down:.1f} s (start took {start_seconds:.1f} s)", flush=True)
    hold(load, after, stop_at)
    load.phase = "after-pg"
    t_end = time.monotonic()
    report_errors("pg", recorder, t_down, t_end)
    report_unavailable("pg", recorder, t_down, t_end)
    dash_back = recorder.first_ok_after("overview", t_up)
    print("  [pg] dashboards answer again " + (f"{dash_back - t_up:.1f} s after PostgreSQL was back" if dash_back
                                                else "NOT during the fault's window"), flush=True)
    report_processes("pg", stack)
    rows, recovered = wait_stored(stack, "pg", load.sent["pg"], t_up)
    return report_hits("pg", load, "pg", rows, recovered)


def fault_redis(stack: Stack, load: PrefixLoad, recorder: Recorder, down: float, after: float, stop_at: float) -> bool:
    print(f"\nfault redis: SIGKILL, {down:.0f} s down, restart from its AOF (appendfsync everysec)", flush=True)
    load.phase = "redis"
    hold(load, 5, stop_at)
    buffered = stack.redis.client.llen("hits:buffer")
    t_down = time.monotonic()
    stack.redis.kill()
    hold(load, down, stop_at)
    stack.redis.start()
    t_up = time.monotonic()
    print(f"  Redis down {t_up - t_down:.1f} s; {buffered} hits were in its buffer a moment before the kill",
          flush=True)
    hold(load, after, stop_at)
    load.phase = "after-redis"
    report_errors("redis", recorder, t_down, time.monotonic())
    report_processes("redis", stack)
    rows, recovered = wait_stored(stack, "redis", load.sent["redis"], t_up)
    return report_hits("redis", load, "redis", rows, recovered)


def digest(stack: Stack, tenant_id: int, first: date, last: date) -> tuple[int, str]:
    """(downloads, md5) over the tenant's downloads and daily rollups of [first, last]: what a count writes."""
    with psycopg.connect(dsn(stack), connect_timeout=5) as conn:
        lo, hi = datetime.combine(first, datetime.min.time(), UTC), datetime.combine(last + timedelta(days=1),
                                                                                    datetime.min.time(), UTC)
        n, h = conn.execute(
            "SELECT count(*), md5(coalesce(string_agg(r, ',' ORDER BY r), '')) FROM (SELECT concat_ws('|', ts, "
            "episode_id, listener_key, podcast_id, app, device, os, country, region, referrer, flags) AS r "
            "FROM downloads WHERE tenant_id = %s AND ts >= %s AND ts < %s) d", (tenant_id, lo, hi)).fetchone()
        parts = [h]
        for (table,) in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                                     "AND table_name LIKE '%%daily_metrics' ORDER BY 1").fetchall():
            cols = [c for (c,) in conn.execute("SELECT column_name FROM information_schema.columns WHERE "
                                               "table_name = %s ORDER BY ordinal_position", (table,)).fetchall()
                    if c not in ("id", "created_at", "updated_at", "refreshed_at")]
            day = "day" if "day" in cols else cols[0]
            parts.append(conn.execute(
                f"SELECT md5(coalesce(string_agg(concat_ws('|', {', '.join(cols)}), ',' ORDER BY "
                f"concat_ws('|', {', '.join(cols)})), '')) FROM {table} WHERE tenant_id = %s "
                f"AND {day} BETWEEN %s AND %s",
                (tenant_id, first, last)).fetchone()[0])
    import hashlib
    return n, hashlib.md5("".join(parts).encode()).hexdigest()[:16]


def wait_job(job: Job, states: tuple[str, ...], limit: float) -> str:
    deadline = time.monotonic() + limit
    status = "?"
    while time.monotonic() < deadline:
        try:
            status = getattr(job.get_status(refresh=True), "value", None) or "?"
        except Exception:  # noqa: BLE001 - the job's hash may be gone
            status = "gone"
        if status in states:
            return status
        time.sleep(0.05)
    return status


def _retries_left(job: Job) -> int | None:
    job.refresh()  # the count RQ wrote when it took the job back, not the one this handle read at enqueue
    return job.retries_left


def fault_worker(stack: Stack, tenant_id: int, first: date, last: date, kill_after: float) -> bool:
    from jobs.queues import FAILURE_TTL, IDEMPOTENT_RETRY, RESULT_TTL

    print(f"\nfault worker: count_tenant({tenant_id}, {first}, {last}) on the measure queue with the product's retry "
          f"policy, the worker running it SIGKILLed {kill_after:.1f} s into the count", flush=True)
    queue = Queue("measure", connection=stack.redis.client)
    job = queue.enqueue("jobs.measure.count_tenant", tenant_id, first.isoformat(), last.isoformat(), job_timeout=1800,
                        result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL, retry=IDEMPOTENT_RETRY)  # as enqueue_count
    status = wait_job(job, ("started", "finished", "failed"), 120)  # wait_job polls every 50 ms
    if status != "started":
        print(f"  [worker] the job never ran (status {status}) within 120 s", flush=True)
        return False
    time.sleep(kill_after)
    victim = None
    for w in Worker.all(connection=stack.redis.client):
        if w.get_current_job_id() == job.id:
            victim = next((p for p in stack.workers if p.proc and p.proc.pid == w.pid), None)
    if victim is None:
        print(f"  [worker] no worker held the job at kill time (status {job.get_status(refresh=True)}): the count "
              f"ended before {kill_after:.1f} s; rerun with a smaller --kill-after", flush=True)
        return False
    t_kill = time.monotonic()
    horses = victim.kill_hard()
    at_kill = getattr(job.get_status(refresh=True), "value", "?")
    print(f"  killed {victim.label} (pid {victim.proc.pid}) and its work horse {horses} while the job was "
          f"'{at_kill}'", flush=True)
    if at_kill != "started":
        print(f"  [worker] the count had ended before the kill: not a kill mid-count; rerun with a smaller "
              f"--kill-after (now {kill_after} s) or a larger --log-lines", flush=True)
        stack.revive()
        return False
    stack.revive()  # as a supervisor would
    # RQ redoes it on its own: once the dead horse's heartbeat lapses (90 s), a worker's maintenance (every 60 s)
    # retries it, after the policy's first wait (15 s) the workers' scheduler queues it, and a worker runs it.
    status = wait_job(job, ("scheduled", "queued", "finished", "failed"), REDO_WAIT)
    taken_back = status in ("scheduled", "queued")
    if taken_back:
        print(f"  [worker] RQ took the abandoned job back {time.monotonic() - t_kill:.1f} s after the kill "
              f"('{status}', {_retries_left(job)} retries left)", flush=True)
        status = wait_job(job, ("finished", "failed"), REDO_RUN_WAIT)
    redo = time.monotonic() - t_kill
    if status == "finished":
        print(f"  [worker] RQ redid the count: finished {redo:.1f} s after the kill", flush=True)
    elif status == "failed":
        print(f"  [worker] RQ did NOT redo the count: the job failed ({redo:.1f} s after the kill)", flush=True)
    else:
        print(f"  [worker] RQ did NOT redo the count: the job is '{status}' {redo:.1f} s after the kill ("
              + (f"taken back, but not finished within {REDO_RUN_WAIT:.0f} s" if taken_back
                 else f"not taken back within {REDO_WAIT:.0f} s: did a worker's maintenance run?") + ")", flush=True)
    recovered = time.monotonic() - t_kill
    after = digest(stack, tenant_id, first, last)
    from services.db import Database
    from services.measurement import counting

    db = Database(stack.pg.url(stack.db_name), "podcast_worker")
    try:
        clean_started = time.monotonic()
        counting.count_downloads(db, tenant_id, first, last)
        clean_seconds = time.monotonic() - clean_started
    finally:
        db.dispose()
    clean = digest(stack, tenant_id, first, last)
    ok = after == clean and status == "finished"
    print(f"  [worker] after recovery {after[0]:,} downloads, digest {after[1]}; clean recount ({clean_seconds:.1f} s) "
          f"{clean[0]:,} downloads, digest {clean[1]} -> {'IDENTICAL' if ok else 'DIFFERENT'}; recovered "
          f"{recovered:.1f} s after the kill", flush=True)
    return ok


def fault_disk(stack: Stack, paths: list[str], rate: float, recorder: Recorder, seconds: float, size: str) -> bool:
    """A second web server whose journal directory is a tmpfs of `size`; prefix load on it until it is full."""
    print(f"\nfault disk: a second gunicorn whose journal (instance/spool/journal) is a {size} tmpfs; prefix load "
          f"{rate:.0f}/s on it for {seconds:.0f} s", flush=True)
    instance = stack.tmp / "instance-disk"
    journal = instance / "spool" / "journal"
    journal.mkdir(parents=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(journal)], capture_output=True,
                         text=True, timeout=10)
    if res.returncode != 0:
        print(f"  [disk] cannot mount a tmpfs ({res.stderr.strip()}): fault not run", flush=True)
        return False
    web = None
    load = None
    try:
        web = Gunicorn("web-disk", "app:create_app()", {**stack.env, "INSTANCE_PATH": str(instance)}, stack.tmp)
        web.wait_ready()
        load = PrefixLoad(web.port, paths, rate, recorder, seconds + 5)
        load.phase = "disk"
        t0 = time.monotonic()
        load.start()
        full_at = None
        while time.monotonic() - t0 < seconds and load.is_alive():
            use = subprocess.run(["df", "--output=pcent", str(journal)], capture_output=True, text=True,
                                 timeout=5).stdout.split()[-1]
            if full_at is None and use == "100%":
                full_at = time.monotonic() - t0
            time.sleep(0.5)
        load.stop()
        t_end = time.monotonic()
        body = _metrics_text(web.port)
        print("  [disk] journal filesystem full at " + (f"{full_at:.1f} s" if full_at else "no point (never 100%)"),
              flush=True)
        report_errors("disk", recorder, t0, t_end)
        log = Path(web.log.name).read_text(errors="replace")
        enospc = len(re.findall(r"No space left|ENOSPC|Errno 28", log))
        alert_lines = [m for m in body.splitlines() if re.search(r"journal|spool|lost|dropped", m) and
                       not m.startswith("#")]
        print(f"  [disk] web log lines naming ENOSPC: {enospc}; /metrics series about the journal or "
              f"lost hits: {alert_lines[:5] or 'none'}", flush=True)
        rows, recovered = wait_stored(stack, "disk", load.sent["disk"], t_end, limit=90)
        return report_hits("disk", load, "disk", rows, recovered, limit=90)
    finally:
        if load is not None and load.is_alive():
            load.stop()
        if web is not None:
            web.stop()
        for args in (["umount", str(journal)], ["umount", "-l", str(journal)]):
            if subprocess.run(args, capture_output=True, timeout=30, check=False).returncode == 0:
                break


def _metrics_text(port: int) -> str:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/metrics")
        return conn.getresponse().read().decode(errors="replace")
    except OSError:
        return ""
    finally:
        conn.close()
