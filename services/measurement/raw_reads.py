"""Reading raw requests for counting: the tenant's download_requests of a time range as a frame. On PostgreSQL by one
COPY ... TO STDOUT read by Arrow's CSV reader, with what SQL can judge exactly (method, status, plain probes, plain
ranges) judged on the server; elsewhere by a plain SELECT."""
from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pandas as pd
import pyarrow as pa
from pyarrow import csv as pa_csv
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.bulk import CopyOut
from services.measurement.requests import PLAIN_PROBES
from services.models import DownloadRequest

RAW_COLUMNS = ["ts", "podcast_id", "method", "status", "bytes", "range", "url", "user_agent", "referer",
               "listener_key", "country", "region", "household_key"]


def read_raw(s: Session, tenant_id: int, start: datetime, end: datetime) -> pd.DataFrame:
    """The tenant's raw requests in [start, end) as RAW_COLUMNS: ts as datetime64 UTC, text columns categorical
    (each distinct value held once). On PostgreSQL one COPY ... TO STDOUT read by Arrow's CSV reader; elsewhere a
    plain SELECT."""
    if s.get_bind().dialect.name != "postgresql":
        cols = [getattr(DownloadRequest, c) for c in RAW_COLUMNS]
        rows = s.execute(select(*cols).where(DownloadRequest.tenant_id == tenant_id, DownloadRequest.ts >= start,
                                             DownloadRequest.ts < end)).all()
        raw = pd.DataFrame([tuple(row) for row in rows], columns=RAW_COLUMNS)  # plain tuples build far faster
        raw["ts"] = pd.to_datetime(raw["ts"], utc=True, format="mixed")
        return raw
    return _copy_raw(s, RAW_COLUMNS, "tenant_id = %s AND ts >= %s AND ts < %s", (tenant_id, start, end))


# The rules of filter_requests that SQL can judge exactly, as the reason filter_requests gives (0: undecided, the
# row goes to pandas). A row gets a reason only when every earlier rule certainly keeps it: only exact method
# spellings are judged (upper() of any other is left to Python), and probes only as the exact plain ranges.
_SQL_DROP_REASONS = {1: "not a GET (HEAD and others)", 2: "304 Not Modified", 3: "error or redirect status",
                     4: "bytes=0-1 probe only"}


def _case_spellings(word: str) -> list[str]:
    spellings = [""]
    for char in word:
        spellings = [p + c for p in spellings for c in dict.fromkeys((char.upper(), char.lower()))]
    return spellings


def _sql_list(values) -> str:
    return ", ".join("'" + v + "'" for v in values)


_SQL_DROP_REASON = (
    f"CASE WHEN method IN ({_sql_list(_case_spellings('HEAD') + ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])}) "
    f"THEN 1 WHEN method IS NULL OR method NOT IN ({_sql_list(_case_spellings('GET'))}) THEN 0 "
    f"WHEN status = 304 THEN 2 WHEN status < 200 OR status > 299 THEN 3 "
    f"WHEN range IN ({_sql_list(sorted(PLAIN_PROBES))}) THEN 4 ELSE 0 END")
COUNTED_COLUMNS = [c for c in RAW_COLUMNS if c != "podcast_id"] + ["range_start"]  # podcast_id: set by episode
# A plain single range (what counting_rules._simple_ranges parses: bytes=, 1-15 ASCII digits, one dash, 0-15 digits)
# is parsed on the server: its text is not sent, its first byte (range_starts' answer) is. The plain probes among
# them never reach the client (_SQL_DROP_REASON). Tested with LIKE and rtrim, not a regex (PostgreSQL's regex took
# ~1.1 us a row, ~4x this test), over `dash`, the first dash's position, found once a row. (% is doubled: the
# statements go through psycopg's parameter formatting.)
_SQL_PLAIN_RANGE = ("(range LIKE 'bytes=_%%-%%' AND range NOT LIKE '%%-%%-%%' "
                    "AND rtrim(range, '-0123456789') = 'bytes=' AND dash <= 22 AND octet_length(range) - dash <= 15)")


def read_countable(s: Session, tenant_id: int, start: datetime, end: datetime,
                   since: datetime) -> tuple[pd.DataFrame, Counter]:
    """read_raw for counting: on PostgreSQL the rows filter_requests would drop by method, status or a plain
    probe range stay on the server (they are judged there by the same rules), and come back as drop counts
    per reason for the rows at or after `since` (those before it are not reported); nor is podcast_id read, nor
    the text of a plain range (range_start has its first byte instead). Elsewhere read_raw and no counts. count_frame over the rows gives the same downloads and, with the
    counts added, the same drops."""
    if s.get_bind().dialect.name != "postgresql":
        return read_raw(s, tenant_id, start, end), Counter()
    where = "tenant_id = %s AND ts >= %s AND ts < %s"
    with _by_index(s):
        rows = s.connection().exec_driver_sql(
            f"SELECT reason, count(*) FROM (SELECT {_SQL_DROP_REASON} AS reason FROM download_requests "
            f"WHERE {where}) AS judged WHERE reason > 0 GROUP BY reason", (tenant_id, since, end)).all()
        dropped = Counter({_SQL_DROP_REASONS[reason]: int(n) for reason, n in rows})
        # Each OFFSET 0 keeps its subquery whole, so what it adds is computed once a row, not once per use.
        slab = (f"SELECT {', '.join(c for c in COUNTED_COLUMNS if c != 'range_start')}, strpos(range, '-') AS dash "
                f"FROM download_requests "
                f"WHERE {where} AND ({_SQL_DROP_REASON}) = 0 OFFSET 0")
        judged = f"SELECT *, coalesce({_SQL_PLAIN_RANGE}, false) AS plain_range FROM ({slab}) AS slab OFFSET 0"
        source = (f"(SELECT *, CASE WHEN plain_range THEN substr(range, 7, dash - 7)::int8 END AS range_first, "
                  f"CASE WHEN plain_range THEN nullif(substr(range, dash + 1), '')::int8 END AS range_last "
                  f"FROM ({judged}) AS judged OFFSET 0) AS countable")
        raw = _copy_raw(s, COUNTED_COLUMNS, "true", (tenant_id, start, end), source=source)
    return raw, dropped


# While a slab is read: the planner prices an index scan of (tenant_id, ts) by tenant_id's correlation with the
# table's order, which is ~0 when tenants interleave, so for a big tenant's slab it picks a sequential scan of the
# whole table, every tenant's rows, for every slab (on the 5M-row counting bench each of six slabs scanned all 5M
# rows, twice: the drop counts, then the COPY). An index or bitmap scan reads only the slab's rows, and each page at
# most once. Nor does a slab's COPY run in parallel: gathering a million wide rows from the workers cost more CPU
# than it saved.
_INDEX_READ_SETTINGS = {"enable_seqscan": "off", "max_parallel_workers_per_gather": "0", "work_mem": "64MB"}


@contextmanager
def _by_index(s: Session) -> Iterator[None]:
    """The transaction's planner settings as _INDEX_READ_SETTINGS while inside, then as they were. (After an error
    they are left: the transaction is failing, and its rollback undoes them.)"""
    conn = s.connection()
    names = list(_INDEX_READ_SETTINGS)
    before = conn.exec_driver_sql("SELECT " + ", ".join(f"current_setting('{n}')" for n in names)).one()
    _set_local(conn, _INDEX_READ_SETTINGS)
    yield
    _set_local(conn, dict(zip(names, before)))


def _set_local(conn, settings: dict[str, str]) -> None:
    conn.exec_driver_sql("SELECT " + ", ".join("set_config(%s, %s, true)" for _ in settings),
                         tuple(v for pair in settings.items() for v in pair))


def _copy_raw(s: Session, columns: list[str], where: str, params: tuple,
              source: str = "download_requests") -> pd.DataFrame:
    """`columns` (of RAW_COLUMNS, and range_start) of `source` WHERE `where`, by one COPY ... TO STDOUT. With
    range_start, `source` must have read_countable's plain_range, range_first and range_last columns."""
    text = ["method", *(c for c in _TEXT if c in columns)]
    numbers = [c for c in ("podcast_id", "status", "bytes", "range_start") if c in columns]
    selected = {c: c for c in numbers + text[1:]}
    if "range_start" in columns:  # a plain range's text is not sent, its first byte is
        selected["range"] = "CASE WHEN plain_range THEN NULL ELSE range END"
        selected["range_start"] = "CASE WHEN range_last < range_first THEN 0 ELSE range_first END"  # NULL: not plain
    sql = (f"COPY (SELECT (extract(epoch FROM ts) * 1000000)::int8, method, {', '.join(selected.values())} "
           f"FROM {source} WHERE {where}) TO STDOUT WITH (FORMAT csv)")
    names = ["ts", "method", *selected]
    raw_conn = s.connection().connection.driver_connection
    with CopyOut(raw_conn, sql, params) as stream:
        stream = io.BufferedReader(stream, buffer_size=1 << 20)
        if not stream.peek(1):  # no rows: nothing for the parser to read
            return pd.DataFrame({c: pd.Series(dtype="datetime64[us, UTC]" if c == "ts" else object)
                                 for c in columns})
        table = _parse_csv(stream, names, numbers, text)
    frame = pd.DataFrame({"ts": pd.to_datetime(table["ts"].to_numpy(), unit="us", utc=True)})
    for name in numbers:
        values = table[name].combine_chunks()
        frame[name] = pd.arrays.IntegerArray(values.fill_null(0).to_numpy(), values.is_null().to_numpy(
            zero_copy_only=False))
    for name in text:
        values = table[name].combine_chunks()
        frame[name] = pd.Categorical.from_codes(
            values.indices.fill_null(-1).to_numpy(),
            categories=pd.Index(values.dictionary.to_numpy(zero_copy_only=False), dtype=object))
    return frame[columns]


_TEXT_TYPE = pa.dictionary(pa.int32(), pa.string())


def _parse_csv(stream, names: list[str], numbers: list[str], text: list[str]) -> pa.Table:
    """A COPY ... TO STDOUT WITH (FORMAT csv) as an Arrow table, parsed by Arrow's CSV reader: its blocks on its
    own threads, the GIL free, and text dictionary-encoded as it is read (each distinct value held once). NULL
    (an empty field) and '' (a quoted empty field) stay apart; numbers are int64 (NULL: null), text dictionaries
    unified across blocks."""
    table = pa_csv.read_csv(
        stream, read_options=pa_csv.ReadOptions(column_names=names, block_size=1 << 22),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types={"ts": pa.int64(), **{c: pa.int64() for c in numbers}, **{c: _TEXT_TYPE for c in text}},
            null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False))
    return table.unify_dictionaries()


_TEXT = ["range", "url", "user_agent", "referer", "listener_key", "country", "region", "household_key"]
