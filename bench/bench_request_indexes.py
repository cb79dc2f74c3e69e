"""Benchmark: what download_requests' indexes cost PostgreSQL when a log import writes its rows (migration 0033).

Run from the project root:  .venv/bin/python bench/bench_request_indexes.py [--lines N] [--rounds R] [--day YYYY-MM-DD]

It creates a fresh database (bench_reqidx_<random>) at 127.0.0.1:5432 (user postgres, trust), seeds the demo tenant,
imports a generated combined log (bench_log_import's, the same lines for the same --day) and reads the imported rows
back in COPY's binary format (untimed). Then, round after round, for each index layout it makes a table like
download_requests holding the seeded requests, checkpoints, and times one COPY of the imported rows into it,
committed: wall time, the backend's CPU (/proc) and the WAL written. The client only replays bytes, so the figures are
PostgreSQL's alone: the floor for writing an import's rows under that layout.

Layouts: the two indexes before 0033 (the key (request_uid, ts) and the index (tenant_id, ts)), the one key since
((tenant_id, ts, request_uid)), and no index at all (a lower bound). The database is dropped at the end."""
from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import sys
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import psycopg
from bench_log_import import HOST, seeded_log

LAYOUTS = {
    "two indexes (before 0033)": ["ALTER TABLE t ADD PRIMARY KEY (request_uid, ts)",
                                  "CREATE INDEX ON t (tenant_id, ts)"],
    "one key (since 0033)": ["ALTER TABLE t ADD PRIMARY KEY (tenant_id, ts, request_uid)"],
    "no index": [],
}


def backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def imported_rows(url: str, sa_url: str, tenant_id: int, log: Path) -> tuple[bytes, int, int]:
    import logging

    from services.db import Database
    from services.measurement.log_import import import_log
    from services.tenancy import TenantContext

    logging.basicConfig(level=logging.WARNING)
    db = Database(sa_url, "podcast_worker")
    report = import_log(db, TenantContext(tenant_id=tenant_id, role="owner"), log, "combined", host=HOST)
    db.dispose()
    out = io.BytesIO()
    with psycopg.connect(url) as conn, conn.cursor().copy(
            "COPY (SELECT * FROM download_requests WHERE import_id = %s ORDER BY request_uid) TO STDOUT "
            "(FORMAT BINARY)", (report.import_id,)) as copy:
        for data in copy:
            out.write(data)
    return out.getvalue(), report.imported, report.import_id


def copy_into(conn, data: bytes, ddl: list[str], import_id: int) -> tuple[float, float, float]:
    conn.execute("DROP TABLE IF EXISTS t")
    conn.execute("CREATE TABLE t (LIKE download_requests)")
    conn.execute("INSERT INTO t SELECT * FROM download_requests WHERE import_id IS DISTINCT FROM %s", (import_id,))
    for statement in ddl:
        conn.execute(statement)
    conn.commit()
    conn.execute("CHECKPOINT")
    pid = conn.info.backend_pid
    lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    conn.commit()
    cpu0, started = backend_cpu(pid), time.perf_counter()
    with conn.cursor().copy("COPY t FROM STDIN (FORMAT BINARY)") as copy:
        for i in range(0, len(data), 1 << 20):
            copy.write(data[i:i + (1 << 20)])
    conn.commit()
    wall, cpu = time.perf_counter() - started, backend_cpu(pid) - cpu0
    wal = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (lsn,)).fetchone()[0]
    conn.commit()
    return wall, cpu, float(wal)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.datetime.now(dt.UTC).date())
    args = parser.parse_args()
    with seeded_log("bench_reqidx", args.lines, args.day) as (url, sa_url, tenant_id, log):
        data, rows, import_id = imported_rows(url, sa_url, tenant_id, log)
        print(f"{rows:,} rows imported from {args.lines:,} lines; {len(data) / 1e6:.0f} MB in COPY's binary format",
              flush=True)
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in LAYOUTS}
        with psycopg.connect(url) as conn:
            for round_no in range(1, args.rounds + 1):
                for name, ddl in LAYOUTS.items():
                    wall, cpu, wal = copy_into(conn, data, ddl, import_id)
                    results[name].append((wall, cpu, wal))
                    print(f"round {round_no}  {name:27s} {wall:5.2f} s wall, backend {cpu:5.2f} CPU-s, WAL "
                          f"{wal / 1e6:4.0f} MB = {rows / wall:>9,.0f} rows/s", flush=True)
            conn.execute("DROP TABLE IF EXISTS t")
            conn.commit()
        before = median(r[0] for r in results["two indexes (before 0033)"])
        after = median(r[0] for r in results["one key (since 0033)"])
        print(f"median wall: two indexes {before:.2f} s, one key {after:.2f} s: the one key writes an import's rows "
              f"{before / after:.2f}x faster; for the import ({rows / args.lines:.0%} of its lines stored) the one-key "
              f"floor is {args.lines / after:,.0f} lines/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
