"""Benchmark: the log import of this checkout against another revision's, run alternately on copies of one seeded
database, so that the host's drift (up to 2x here) lands on both alike.

Run from the project root (a git checkout):
    .venv/bin/python bench/bench_log_import_ab.py --base REV [--rounds 4] [--lines 1000000] [--day YYYY-MM-DD]

It checks REV out into a temporary git worktree, seeds one database and generates one log as bench_log_import does
(bench_log_import.seeded_log), then for each round copies the database (CREATE DATABASE ... TEMPLATE, then a
CHECKPOINT) and times services.measurement.log_import.import_log of each side in a fresh child process (the order
alternates round by round; each child loads the geolocation data before the clock starts, as a worker does). It
prints each run's wall time, the child's CPU and PostgreSQL's, then the medians and their ratio; the worktree, the
databases and the log are removed at the end.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD_TIMEOUT = 600


def child(code: str, sa_url: str, tenant_id: int, log: str) -> None:
    """Runs in a fresh interpreter: one import with `code`'s services, printed as RESULT wall cpu server_cpu rows."""
    sys.path.insert(0, code)
    sys.path.insert(1, str(ROOT / "bench"))
    from counting_floor import server_cpu_seconds

    from services.db import Database
    from services.measurement.geo import default_locator
    from services.measurement.log_import import import_log
    from services.tenancy import TenantContext

    default_locator()
    db = Database(sa_url, "podcast_worker")
    server0, cpu0, started = server_cpu_seconds(), time.process_time(), time.perf_counter()
    report = import_log(db, TenantContext(tenant_id=tenant_id, role="owner"), log, "combined",
                        host="media.example.com")
    wall = time.perf_counter() - started
    server = server_cpu_seconds()
    print(f"RESULT {wall:.3f} {time.process_time() - cpu0:.3f} "
          f"{-1 if server0 is None else server - server0:.3f} {report.imported}", flush=True)
    db.dispose()


def run_side(code: Path, sa_url: str, tenant_id: int, log: Path) -> tuple[float, float, float, int]:
    out = subprocess.run([sys.executable, __file__, "--child", str(code), sa_url, str(tenant_id), str(log)],
                         capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode or not lines:
        raise RuntimeError(f"import child for {code} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    wall, cpu, server, rows = lines[0].split()[1:]
    return float(wall), float(cpu), float(server), int(rows)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        code, sa_url, tenant_id, log = sys.argv[2:6]
        child(code, sa_url, int(tenant_id), log)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the revision to compare with (a commit, tag or branch)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.datetime.now(dt.UTC).date())
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "bench"))
    sys.path.insert(1, str(ROOT))
    import psycopg
    from bench_log_import import PG_ADMIN, seeded_log

    worktree = Path(tempfile.mkdtemp(prefix="bench_ab_base_"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(worktree), args.base],
                   check=True, timeout=120)
    sides = {f"this checkout ({_rev(ROOT)})": ROOT, f"base {args.base} ({_rev(worktree)})": worktree}
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sides}
    try:
        with seeded_log("bench_ab", args.lines, args.day) as (url, sa_url, tenant_id, log), \
                psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=10) as admin:
            template = url.rsplit("/", 1)[1]
            for round_ in range(args.rounds):
                for name in (list(sides) if round_ % 2 == 0 else list(sides)[::-1]):
                    copy = f"{template}_r{round_}"
                    admin.execute(f"CREATE DATABASE {copy} TEMPLATE {template}")
                    admin.execute("CHECKPOINT")
                    try:
                        wall, cpu, server, rows = run_side(sides[name], sa_url.rsplit("/", 1)[0] + "/" + copy,
                                                           tenant_id, log)
                    finally:
                        admin.execute(f"DROP DATABASE IF EXISTS {copy}")
                    results[name].append((wall, cpu, server))
                    print(f"round {round_ + 1} {name:40s} {wall:6.2f} s = {args.lines / wall:>9,.0f} lines/s; "
                          f"import CPU {cpu:.2f} s, PostgreSQL CPU {server:.2f} s; {rows:,} rows", flush=True)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], timeout=120)
        shutil.rmtree(worktree, ignore_errors=True)
    medians = {}
    for name, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        medians[name] = wall
        cpu, server = (statistics.median(r[i] for r in runs) for i in (1, 2))
        print(f"median  {name:40s} {wall:6.2f} s = {args.lines / wall:>9,.0f} lines/s; import CPU {cpu:.2f} s, "
              f"PostgreSQL CPU {server:.2f} s")
    this, base = medians.values()
    print(f"ratio   this checkout's median wall / the base's = {this / base:.3f} ({args.rounds} rounds)")
    return 0


def _rev(path: Path) -> str:
    return subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          timeout=30).stdout.strip()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
