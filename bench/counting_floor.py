"""The input/output floor of counting on this host, for bench_counting.py: how long PostgreSQL alone takes to hand
over the raw rows counting reads and to take the rows counting writes, with no work done on them in between.

No counting process can beat read + write seconds on one connection: counting reads every raw request and writes
one transaction of downloads plus every plain-table rollup. The rows written are the ones the count just made,
COPYed (in primary-key order, as counting writes them, and in COPY's binary format, as services.bulk writes them)
into fresh tables with the same indexes, so the index maintenance and WAL are the same.
"""
from __future__ import annotations

import os
import time

import psycopg

from services.measurement import store

FLOOR_TARGET = 1.5  # operations at scale: a first count within 1.5x its input/output floor
READ_COLUMNS = "ts, method, status, bytes, range, url, user_agent, referer, listener_key, country, region"


def _drain(conn: psycopg.Connection, sql: str, params=()) -> tuple[int, int]:
    """Rows and bytes of a COPY ... TO STDOUT, received through libpq and dropped."""
    pgconn = conn.pgconn
    pgconn.send_query(psycopg.ClientCursor(conn).mogrify(sql, params).encode())
    pgconn.get_result()
    rows = size = 0
    get = pgconn.get_copy_data
    while True:
        nbytes, _data = get(0)
        if nbytes < 0:
            break
        rows, size = rows + 1, size + nbytes
    while pgconn.get_result() is not None:
        pass
    return rows, size


def server_cpu_seconds() -> float | None:
    """CPU seconds (user + system) that PostgreSQL's processes on this host have used so far: each live postgres
    process's own, plus what the postmaster collected from the backends and parallel workers that have exited. The
    whole server's, so take differences over a stretch when nothing else uses it. None without a readable /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total, found = 0, False
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:  # gone meanwhile
            continue
        name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if name != "postgres":
            continue
        found = True
        parent_is_postgres = False
        try:
            with open(f"/proc/{fields[1]}/comm") as f:
                parent_is_postgres = f.read().strip() == "postgres"
        except OSError:
            pass
        # utime, stime; the postmaster (no postgres parent) adds its exited children's cutime, cstime
        total += int(fields[11]) + int(fields[12]) + (0 if parent_is_postgres else int(fields[13]) + int(fields[14]))
    return total / tick if found else None


def io_floor(dsn: str, tenant_id: int) -> dict:
    """Seconds to read the tenant's raw requests and to write its downloads and rollups, as counting does."""
    tables = ["downloads"] + [model.__tablename__ for model, _keys, _bit in store.ROLLUP_SPECS]
    with psycopg.connect(dsn, autocommit=True) as conn:
        cpu0 = server_cpu_seconds()
        t0 = time.perf_counter()
        read_rows, read_bytes = _drain(conn, f"COPY (SELECT {READ_COLUMNS} FROM download_requests "
                                             f"WHERE tenant_id = %s) TO STDOUT WITH (FORMAT csv)", (tenant_id,))
        read_s = time.perf_counter() - t0
        read_cpu = server_cpu_seconds()
        written, write_s, write_cpu = {}, 0.0, 0.0
        try:
            for table in tables:
                key = conn.execute("SELECT string_agg(a.attname, ', ' ORDER BY k.n) FROM pg_index i "
                                   "CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
                                   "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                                   "WHERE i.indrelid = %s::regclass AND i.indisprimary", (table,)).fetchone()[0]
                with conn.cursor().copy(f"COPY (SELECT * FROM {table} WHERE tenant_id = %s ORDER BY {key}) "
                                        f"TO STDOUT (FORMAT BINARY)", (tenant_id,)) as copy:
                    data = b"".join(bytes(block) for block in copy)
                conn.execute(f"CREATE TABLE floor_{table} (LIKE {table} INCLUDING DEFAULTS INCLUDING INDEXES)")
                with conn.transaction():  # one transaction per table: counting commits once, at the end
                    t0, c0 = time.perf_counter(), server_cpu_seconds()
                    with conn.cursor().copy(f"COPY floor_{table} FROM STDIN (FORMAT BINARY)") as copy:
                        copy.write(data)
                    write_s += time.perf_counter() - t0
                    if c0 is not None:
                        write_cpu += server_cpu_seconds() - c0
                written[table] = conn.execute(f"SELECT count(*) FROM floor_{table}").fetchone()[0]
        finally:
            for table in tables:
                conn.execute(f"DROP TABLE IF EXISTS floor_{table}")
    return {"read_rows": read_rows, "read_mb": read_bytes / 2**20, "read_s": read_s, "written": written,
            "write_s": write_s,
            "server_cpu_s": None if cpu0 is None else read_cpu - cpu0 + write_cpu}


def print_floor(floor: dict, requests: int, first_count_s: float, first_count_cpu: tuple[float, float | None]
                = (0.0, None)) -> None:
    """The floor, and how the first count (seconds; its own and PostgreSQL's CPU seconds) compares with it."""
    downloads = floor["written"]["downloads"]
    rollup_rows = sum(n for table, n in floor["written"].items() if table != "downloads")
    total = floor["read_s"] + floor["write_s"]
    print(f"input/output floor (PostgreSQL alone, nothing done per row): reading the {floor['read_rows']:,} raw rows "
          f"({floor['read_mb']:,.0f} MiB of CSV) {floor['read_s']:.2f} s; writing {downloads:,} downloads + "
          f"{rollup_rows:,} rollup rows into tables with the same indexes {floor['write_s']:.2f} s; together "
          f"{total:.2f} s = at most {requests / total:,.0f} rows/s wall on this host. The first count took "
          f"{first_count_s / total:.2f}x the floor [target <= {FLOOR_TARGET}x: "
          f"{'PASS' if first_count_s / total <= FLOOR_TARGET else 'FAIL'}].")
    client_cpu, server_cpu = first_count_cpu
    if server_cpu is None or floor.get("server_cpu_s") is None:
        return
    cpus = os.cpu_count() or 1
    both = client_cpu + server_cpu
    print(f"CPU: PostgreSQL's processes used {floor['server_cpu_s']:.2f} CPU-s during the floor; during the first count "
          f"{server_cpu:.2f} CPU-s, and the counting process {client_cpu:.2f} CPU-s: together {both:.2f} CPU-s, so on "
          f"this host's {cpus} CPUs the first count needs at least {both / cpus:.2f} s of wall "
          f"({both / cpus / total:.2f}x the floor) however well its work overlaps; in its {first_count_s:.2f} s the "
          f"CPUs were {both / (cpus * first_count_s):.0%} busy with it.")
