"""Fast bulk writes of DataFrames: COPY on PostgreSQL, executemany on SQLite, in the caller's transaction."""
from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pandas as pd
import psycopg
from psycopg import pq
from sqlalchemy import Table
from sqlalchemy.orm import Session

from services.models import TIME_SERIES_TABLES

NULL = "\\N"  # COPY text format's NULL
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
COPY_CHUNK_ROWS = 200_000  # rows formatted per piece of COPY data: bounds the memory the text takes


def insert_frame(session: Session, table: Table, frame: pd.DataFrame, skip_existing: bool = False) -> int:
    """Insert every row of `frame` (columns named as the table's) into `table`.

    `skip_existing` ignores rows whose primary key is already there (a replayed hit, a re-imported line); the
    count returned is of rows actually inserted."""
    if frame.empty:
        return 0
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        if table.name in TIME_SERIES_TABLES and not skip_existing:
            # Time-series tables carry no row-level security: COPY straight in.
            with raw.cursor() as cur:
                copy_frame(cur, table.name, frame)
            return len(frame)
        # COPY cannot write through row-level security (nor skip existing keys), so it fills a temporary table
        # and one INSERT ... SELECT moves the rows, with the policy's WITH CHECK applied to each.
        cols = ", ".join(frame.columns)
        with raw.cursor() as cur:
            cur.execute(f"CREATE TEMP TABLE _bulk_{table.name} ON COMMIT DROP AS "
                        f"SELECT {cols} FROM {table.name} WITH NO DATA")
            copy_frame(cur, f"_bulk_{table.name}", frame)
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


def copy_frame(cursor, table_name: str, frame: pd.DataFrame) -> None:
    """COPY `frame` into `table_name` on a psycopg cursor, as text built column-wise (see copy_text)."""
    columns, pieces = copy_text(frame)
    with cursor.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN") as copy:
        for piece in pieces:
            copy.write(piece)


def copy_text(frame: pd.DataFrame, chunk_rows: int = COPY_CHUNK_ROWS) -> tuple[list[str], Iterator[bytes]]:
    """`frame` as COPY text format: (the column order used, UTF-8 pieces of whole rows).

    Values are formatted once per distinct value, never per row: each column becomes codes into its distinct
    texts (escaped: backslash, tab, newline, carriage return; missing values as \\N). Columns with few distinct
    values (ids, app, country, ...) are joined once per distinct combination and written last, so a row is one
    join of its few many-valued fields and that combination."""
    n = len(frame)
    many, few = [], []
    for name in frame.columns:
        parts = _column_parts(frame[name])
        (few if len(parts) == 1 and len(parts[0][1]) <= max(n // 4, 1) else many).append((name, parts))
    pieces: list[tuple[np.ndarray, np.ndarray]] = []
    for name, parts in many:
        codes, texts = parts[-1]
        parts[-1] = (codes, np.array([t + "\t" for t in texts], dtype=object))
        pieces += parts
    if few:
        pieces.append(_combine([parts[0] for _, parts in few]))
    else:
        codes, texts = pieces[-1]
        pieces[-1] = (codes, np.array([t[:-1] + "\n" for t in texts], dtype=object))
    columns = [name for name, _ in many] + [name for name, _ in few]

    def chunks() -> Iterator[bytes]:
        for lo in range(0, n, chunk_rows):
            hi = min(lo + chunk_rows, n)
            arrays = [texts.take(codes[lo:hi]) for codes, texts in pieces]
            yield "".join(map("".join, zip(*arrays))).encode("utf-8")

    return columns, chunks()


def _combine(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Columns (codes, texts) -> one piece: codes of each distinct combination and its tab-joined line end."""
    combo = np.zeros(len(parts[0][0]), dtype=np.int64)
    for codes, texts in parts:
        combo, _ = pd.factorize(combo * len(texts) + codes)
        combo = combo.astype(np.int64)
    first = np.full(combo.max() + 1 if len(combo) else 0, -1, dtype=np.int64)
    first[combo[::-1]] = np.arange(len(combo) - 1, -1, -1)
    columns = [texts.take(codes[first]) for codes, texts in parts]
    return combo, np.array(["\t".join(values) + "\n" for values in zip(*columns)], dtype=object)


def _column_parts(series: pd.Series) -> list[tuple[np.ndarray, np.ndarray]]:
    """A column's COPY text as one or more parts (codes per row into distinct texts; no -1 codes), which
    concatenated make each row's field."""
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "M"):
        return _datetime_parts(series)
    if isinstance(dtype, pd.CategoricalDtype):
        texts = _texts(dtype.categories)
        codes = series.cat.codes.to_numpy().astype(np.int64)
        return [(np.where(codes < 0, len(texts) - 1, codes), texts)]
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return [(series.to_numpy().astype(np.int64), np.array(["f", "t"], dtype=object))]
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable values: one text per row
        codes, uniques = np.arange(len(series)), pd.Index(series.to_numpy(), dtype=object)
    texts = _texts(uniques)
    codes = codes.astype(np.int64)
    return [(np.where(codes < 0, len(texts) - 1, codes), texts)]


def _texts(uniques) -> np.ndarray:
    """Distinct non-missing values -> their escaped COPY texts, with \\N appended (for code -1)."""
    dtype = getattr(uniques, "dtype", None)
    if dtype is not None and (dtype.kind in "iu") and not (hasattr(uniques, "hasnans") and uniques.hasnans):
        # integers (numpy or nullable: NA is never among the uniques), formatted by numpy
        return np.array(np.asarray(uniques, dtype=np.int64 if dtype.kind == "i" else np.uint64).astype(str).tolist()
                        + [NULL], dtype=object)
    values = uniques.tolist() if hasattr(uniques, "tolist") else list(uniques)
    if isinstance(getattr(uniques, "dtype", None), np.dtype) and uniques.dtype.kind == "b":
        out = ["t" if v else "f" for v in values]
    elif isinstance(getattr(uniques, "dtype", None), np.dtype) and uniques.dtype.kind == "f":
        out = [repr(float(v)) for v in values]
    elif all(type(v) is str for v in values):  # the common case: escape only when something needs it
        blob = "\0".join(values)
        special = "\\" in blob or "\t" in blob or "\n" in blob or "\r" in blob
        out = [v.translate(_ESCAPES) for v in values] if special else values
    else:
        out = [_text(v) for v in values]
    return np.array(out + [NULL], dtype=object)


def _text(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value).translate(_ESCAPES)


def _datetime_parts(series: pd.Series) -> list[tuple[np.ndarray, np.ndarray]]:
    """Timestamps as three parts (day, time of day to the second, fraction + zone), each with few distinct
    texts. Aware timestamps are written in UTC with +00; naive ones without a zone."""
    aware = isinstance(series.dtype, pd.DatetimeTZDtype)
    naive = series.dt.tz_convert("UTC").dt.tz_localize(None) if aware else series
    missing = naive.isna().to_numpy()
    us = naive.to_numpy(dtype="datetime64[us]").view(np.int64)
    day, rest = np.divmod(us, 86_400_000_000)
    second, micro = np.divmod(rest, 1_000_000)
    zone = "+00" if aware else ""
    if missing.any():
        day, second, micro = day.copy(), second.copy(), micro.copy()
        day[missing], second[missing], micro[missing] = np.iinfo(np.int64).min, -1, -1
    day_codes, days = pd.factorize(day)
    day_texts = [NULL if d == np.iinfo(np.int64).min else f"{np.datetime64(d, 'D')} " for d in days.tolist()]
    second_codes, seconds = pd.factorize(second)
    second_texts = ["" if s < 0 else f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in seconds.tolist()]
    micro_codes, micros = pd.factorize(micro)
    micro_texts = ["" if m < 0 else (f".{m:06d}" if m else "") + zone for m in micros.tolist()]
    return [(day_codes.astype(np.int64), np.array(day_texts, dtype=object)),
            (second_codes.astype(np.int64), np.array(second_texts, dtype=object)),
            (micro_codes.astype(np.int64), np.array(micro_texts, dtype=object))]


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
        while filled < size:
            if not len(pending):
                if self._done:
                    break
                nbytes, data = self._pgconn.get_copy_data(0)  # blocks until a row (or the end) arrives
                if nbytes < 0:
                    self._done = True
                    self._finish(self._pgconn.get_result())
                    break
                pending = memoryview(bytes(data))
            n = min(size - filled, len(pending))
            buffer[filled:filled + n] = pending[:n]
            pending = pending[n:]
            filled += n
        self._pending = pending
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
