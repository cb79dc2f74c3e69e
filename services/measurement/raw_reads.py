"""Reading raw requests for counting: the tenant's download_requests of a time range as a frame. On PostgreSQL by one
COPY ... TO STDOUT read by pandas' C parser, with what SQL can judge exactly (method, status, plain probes, plain
ranges) judged on the server; elsewhere by a plain SELECT."""
from __future__ import annotations

import io
from collections import Counter
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.bulk import CopyOut
from services.measurement.requests import PLAIN_PROBES
from services.models import DownloadRequest

RAW_COLUMNS = ["ts", "podcast_id", "method", "status", "bytes", "range", "url", "user_agent", "referer",
               "listener_key", "country", "region", "household_key"]


def read_raw(s: Session, tenant_id: int, start: datetime, end: datetime) -> pd.DataFrame:
    """The tenant's raw requests in [start, end) as RAW_COLUMNS: ts as datetime64 UTC, text columns categorical
    (each distinct value held once). On PostgreSQL one COPY ... TO STDOUT read by pandas' C parser; elsewhere a
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
# A plain single range (what counting_rules._simple_ranges parses) is parsed on the server: its text is not sent,
# its first byte (range_starts' answer) is. The plain probes among them never reach the client (_SQL_DROP_REASON).
_SQL_PLAIN_RANGE = "range ~ '^bytes=[0-9]{1,15}-[0-9]{0,15}$'"
_SQL_RANGE_FIRST = "substr(split_part(range, '-', 1), 7)::int8"
_SQL_RANGE_LAST = "nullif(split_part(range, '-', 2), '')::int8"


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
    rows = s.connection().exec_driver_sql(
        f"SELECT reason, count(*) FROM (SELECT {_SQL_DROP_REASON} AS reason FROM download_requests WHERE {where}) "
        f"AS judged WHERE reason > 0 GROUP BY reason", (tenant_id, since, end)).all()
    dropped = Counter({_SQL_DROP_REASONS[reason]: int(n) for reason, n in rows})
    # OFFSET 0 keeps the subquery whole, so each row's range is matched once, not once per use.
    source = (f"(SELECT *, coalesce({_SQL_PLAIN_RANGE}, false) AS plain_range "
              f"FROM download_requests WHERE {where} AND ({_SQL_DROP_REASON}) = 0 OFFSET 0) AS countable")
    raw = _copy_raw(s, COUNTED_COLUMNS, "true", (tenant_id, start, end), source=source)
    return raw, dropped


def _copy_raw(s: Session, columns: list[str], where: str, params: tuple,
              source: str = "download_requests") -> pd.DataFrame:
    """`columns` (of RAW_COLUMNS, and range_start) of `source` WHERE `where`, by one COPY ... TO STDOUT. With
    range_start, `source` must have read_countable's plain_range column."""
    text = [c for c in _TEXT if c in columns]
    nullable = [c for c in _NULLABLE_TEXT if c in columns]
    numbers = [c for c in ("podcast_id", "status", "bytes", "range_start") if c in columns]
    selected = {c: c for c in numbers + text}
    null_tests = {c: f"{c} IS NULL" for c in nullable}
    if "range_start" in columns:  # a plain range's text is not sent, its first byte is
        selected["range"] = "CASE WHEN plain_range THEN NULL ELSE range END"
        selected["range_start"] = (f"CASE WHEN plain_range THEN CASE WHEN {_SQL_RANGE_LAST} < {_SQL_RANGE_FIRST} "
                                   f"THEN 0 ELSE {_SQL_RANGE_FIRST} END END")
        null_tests["range"] = "plain_range OR range IS NULL"
    # A bit per nullable text column tells NULL from '' (the CSV below writes both as an empty field).
    nulls = " + ".join(f"({null_tests[c]})::int * {1 << i}" for i, c in enumerate(nullable)) or "0"
    sql = (f"COPY (SELECT (extract(epoch FROM ts) * 1000000)::int8, method, {', '.join(selected.values())}, "
           f"{nulls} FROM {source} WHERE {where}) TO STDOUT WITH (FORMAT csv)")
    names = ["ts", "method", *selected, "nulls"]
    raw_conn = s.connection().connection.driver_connection
    with CopyOut(raw_conn, sql, params) as stream:
        stream = io.BufferedReader(stream, buffer_size=1 << 20)
        if not stream.peek(1):  # no rows: nothing for the parser to read
            return pd.DataFrame({c: pd.Series(dtype="datetime64[us, UTC]" if c == "ts" else object)
                                 for c in columns})
        # Text as object, then factorised here: pandas' own categorical parsing is ~3x slower than both.
        frame = pd.read_csv(stream, header=None, names=names,
                            keep_default_na=False, na_values={c: [""] for c in numbers},
                            low_memory=False, dtype={"ts": "int64", "nulls": "int64", **{c: "Int64" for c in numbers},
                                                     **{c: object for c in ["method", *text]}})
    nulls = frame.pop("nulls").to_numpy()
    for name in ["method", *text]:
        codes, uniques = pd.factorize(frame[name].to_numpy())
        if name in nullable:
            codes = np.where((nulls & (1 << nullable.index(name))) != 0, -1, codes)
        frame[name] = pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object))
    frame["ts"] = pd.to_datetime(frame["ts"].to_numpy(), unit="us", utc=True)
    return frame[columns]


_TEXT = ["range", "url", "user_agent", "referer", "listener_key", "country", "region", "household_key"]
_NULLABLE_TEXT = ["range", "user_agent", "referer", "country", "region", "household_key"]
