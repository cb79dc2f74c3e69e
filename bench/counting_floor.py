"""The input/output floor of counting on this host, for bench_counting.py: how long PostgreSQL alone takes to hand
over the raw rows counting reads and to take the rows counting writes, with no work done on them in between.

No counting process can beat read + write seconds on one connection: counting reads every raw request and writes
one transaction of downloads plus every plain-table rollup. The rows written are the ones the count just made,
COPYed (in primary-key order, as counting writes them) into fresh tables with the same indexes, so the index
maintenance and WAL are the same.
"""
from __future__ import annotations

import time

import psycopg

from services.measurement import store

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


def io_floor(dsn: str, tenant_id: int) -> dict:
    """Seconds to read the tenant's raw requests and to write its downloads and rollups, as counting does."""
    tables = ["downloads"] + [model.__tablename__ for model, _keys, _bit in store.ROLLUP_SPECS]
    with psycopg.connect(dsn, autocommit=True) as conn:
        t0 = time.perf_counter()
        read_rows, read_bytes = _drain(conn, f"COPY (SELECT {READ_COLUMNS} FROM download_requests "
                                             f"WHERE tenant_id = %s) TO STDOUT WITH (FORMAT csv)", (tenant_id,))
        read_s = time.perf_counter() - t0
        written, write_s = {}, 0.0
        try:
            for table in tables:
                key = conn.execute("SELECT string_agg(a.attname, ', ' ORDER BY k.n) FROM pg_index i "
                                   "CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
                                   "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                                   "WHERE i.indrelid = %s::regclass AND i.indisprimary", (table,)).fetchone()[0]
                with conn.cursor().copy(f"COPY (SELECT * FROM {table} WHERE tenant_id = %s ORDER BY {key}) "
                                        f"TO STDOUT", (tenant_id,)) as copy:
                    data = b"".join(bytes(block) for block in copy)
                conn.execute(f"CREATE TABLE floor_{table} (LIKE {table} INCLUDING DEFAULTS INCLUDING INDEXES)")
                with conn.transaction():  # one transaction per table: counting commits once, at the end
                    t0 = time.perf_counter()
                    with conn.cursor().copy(f"COPY floor_{table} FROM STDIN") as copy:
                        copy.write(data)
                    write_s += time.perf_counter() - t0
                written[table] = conn.execute(f"SELECT count(*) FROM floor_{table}").fetchone()[0]
        finally:
            for table in tables:
                conn.execute(f"DROP TABLE IF EXISTS floor_{table}")
    return {"read_rows": read_rows, "read_mb": read_bytes / 2**20, "read_s": read_s, "written": written,
            "write_s": write_s}


def print_floor(floor: dict, requests: int, first_count_s: float) -> None:
    downloads = floor["written"]["downloads"]
    rollup_rows = sum(n for table, n in floor["written"].items() if table != "downloads")
    total = floor["read_s"] + floor["write_s"]
    print(f"input/output floor (PostgreSQL alone, nothing done per row): reading the {floor['read_rows']:,} raw rows "
          f"({floor['read_mb']:,.0f} MiB of CSV) {floor['read_s']:.2f} s; writing {downloads:,} downloads + "
          f"{rollup_rows:,} rollup rows into tables with the same indexes {floor['write_s']:.2f} s; together "
          f"{total:.2f} s = at most {requests / total:,.0f} rows/s wall on this host. The first count took "
          f"{first_count_s / total:.2f}x the floor.")
