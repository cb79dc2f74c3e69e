"""Fast bulk writes of DataFrames: COPY on PostgreSQL, executemany on SQLite, in the caller's transaction."""
from __future__ import annotations

import io
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
from psycopg import pq
from sqlalchemy import Table
from sqlalchemy.orm import Session

from services.copy_formats import _NoBinary, copy_binary, copy_text
from services.models import TIME_SERIES_TABLES
from services.models.attribution import ATTRIBUTION_TIME_SERIES


def insert_frame(session: Session, table: Table, frame: pd.DataFrame, skip_existing: bool = False,
                 per_row: Collection[str] = ()) -> int:
    """Insert every row of `frame` (columns named as the table's) into `table`.

    `skip_existing` ignores rows whose primary key is already there (a replayed hit, a re-imported line); the
    count returned is of rows actually inserted. `per_row` names columns with a value per row (see copy_text)."""
    if frame.empty:
        return 0
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        if (table.name in TIME_SERIES_TABLES or table.name in ATTRIBUTION_TIME_SERIES) and not skip_existing:
            # Time-series tables carry no row-level security: COPY straight in.
            with raw.cursor() as cur:
                copy_frame(cur, table.name, frame, per_row)
            return len(frame)
        # COPY cannot write through row-level security (nor skip existing keys), so it fills a temporary table
        # and one INSERT ... SELECT moves the rows, with the policy's WITH CHECK applied to each.
        cols = ", ".join(frame.columns)
        with raw.cursor() as cur:
            cur.execute(f"CREATE TEMP TABLE _bulk_{table.name} ON COMMIT DROP AS "
                        f"SELECT {cols} FROM {table.name} WITH NO DATA")
            copy_frame(cur, f"_bulk_{table.name}", frame, per_row)
            conflict = " ON CONFLICT DO NOTHING" if skip_existing else ""
            cur.execute(f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM _bulk_{table.name}{conflict}")
            inserted = cur.rowcount
            cur.execute(f"DROP TABLE _bulk_{table.name}")
        return inserted
    # Straight to sqlite3 with plain tuples: SQLAlchemy's per-row parameter processing costs more than
    # the insert. Datetimes are written the way SQLAlchemy's SQLite DateTime type reads them back.
    columns = list(frame.columns)
    out = frame.copy()
    for name in columns:
        if isinstance(out[name].dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(out[name]):
            series = out[name].dt.tz_convert(None) if isinstance(out[name].dtype, pd.DatetimeTZDtype) else out[name]
            out[name] = series.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
    out = out.astype(object).where(out.notna(), None)
    verb = "INSERT OR IGNORE" if skip_existing else "INSERT"
    sql = f"{verb} INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    cursor = connection.connection.driver_connection.executemany(sql, out.itertuples(index=False, name=None))
    return cursor.rowcount


def categorical_of(values, codes: np.ndarray) -> pd.Categorical:
    """Per-row values as a Categorical: `values` (one per distinct item, None for missing) taken by `codes` (each
    row's item; numpy-style, so -1 takes the last), each distinct value held once, so copy_text formats it once."""
    value_codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    return pd.Categorical.from_codes(value_codes[codes], categories=pd.Index(uniques, dtype=object))


def copy_frame(cursor, table_name: str, frame: pd.DataFrame, per_row: Collection[str] = ()) -> None:
    """COPY `frame` into `table_name` on a psycopg cursor, built column-wise: in PostgreSQL's binary format when
    every column's type has an encoding here (see copy_binary; the server then parses no text, which costs it
    about as much as storing the rows), else as text (see copy_text)."""
    write_copy(cursor, encode_copy(table_name, frame, column_types(cursor, table_name), per_row))


@dataclass
class EncodedCopy:
    """A frame made into COPY data ahead of its write (encode_copy needs no connection): a thread can make the next
    while a session writes one, so the server does not wait for the client's formatting."""

    statement: str
    pieces: list  # bytes-like, in order
    rows: int


def column_types(cursor, table_name: str) -> dict[str, str]:
    """The table's columns' PostgreSQL types (pg_type.typname by column name), as encode_copy takes them."""
    return dict(cursor.execute(_COLUMN_TYPES, (table_name,)).fetchall())


def encode_copy(table_name: str, frame: pd.DataFrame, types: dict[str, str],
                per_row: Collection[str] = ()) -> EncodedCopy:
    """copy_frame's COPY statement and data for `frame`, built now (binary where copy_binary can, else text)."""
    try:
        columns, pieces = copy_binary(frame, types, per_row=per_row)
        options = " (FORMAT BINARY)"
    except _NoBinary:
        columns, pieces = copy_text(frame, per_row=per_row)
        options = ""
    return EncodedCopy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN{options}", list(pieces), len(frame))


def write_copy(cursor, encoded: EncodedCopy) -> None:
    with cursor.copy(encoded.statement) as copy:
        for piece in encoded.pieces:
            copy.write(piece)


def write_encoded(session: Session, table: Table, encoded: EncodedCopy) -> int:
    """Write what encode_copy made for a time-series table (COPY straight in: they carry no row-level security) on
    the session's PostgreSQL connection; the number of rows."""
    if table.name not in TIME_SERIES_TABLES and table.name not in ATTRIBUTION_TIME_SERIES:
        raise ValueError(f"{table.name} is not a time-series table: write it with insert_frame")
    with session.connection().connection.driver_connection.cursor() as cur:
        write_copy(cur, encoded)
    return encoded.rows


_COLUMN_TYPES = ("SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                 "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped")


class CopyOut(io.RawIOBase):
    """`COPY ... TO STDOUT` as a readable stream, straight from libpq: the server sends one message per row, and
    psycopg's Copy iterator costs several microseconds per message, more than parsing the row. The connection is
    left idle afterwards (or the error raised), as psycopg expects."""

    def __init__(self, connection, sql: str, params):
        self._pgconn = connection.pgconn
        query = psycopg.ClientCursor(connection).mogrify(sql, params)
        self._pgconn.send_query(query.encode(connection.info.encoding))
        result = self._pgconn.get_result()
        if result is None or result.status != pq.ExecStatus.COPY_OUT:
            self._finish(result)
            raise psycopg.ProgrammingError("COPY TO STDOUT did not start")
        self._pending = memoryview(b"")
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size, filled = len(buffer), 0
        pending = self._pending
        if len(pending):  # the rest of a row that did not fit last time
            filled = min(size, len(pending))
            buffer[:filled] = pending[:filled]
            self._pending = pending[filled:]
            if len(self._pending):
                return filled
        get = self._pgconn.get_copy_data
        while filled < size and not self._done:
            nbytes, data = get(0)  # blocks until a row (or the end) arrives
            if nbytes < 0:
                self._done = True
                self._finish(self._pgconn.get_result())
                break
            end = filled + nbytes
            if end <= size:  # the usual case: the whole row fits, copied once
                buffer[filled:end] = data
                filled = end
            else:
                data = memoryview(bytes(data))  # libpq's buffer is reused by the next call: keep a copy
                buffer[filled:] = data[:size - filled]
                self._pending = data[size - filled:]
                return size
        return filled

    def _finish(self, result) -> None:
        error = None
        while result is not None:
            if result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.COPY_OUT) and error is None:
                error = psycopg.errors.error_from_result(result)
            result = self._pgconn.get_result()
        if error is not None:
            raise error

    def __exit__(self, *exc) -> None:
        while not self._done:  # left early: read the rest so the connection is usable again
            if not self.readinto(bytearray(1 << 20)):
                break
        super().__exit__(*exc)
