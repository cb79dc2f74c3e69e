"""Fast bulk writes of DataFrames: COPY on PostgreSQL, executemany on SQLite, in the caller's transaction."""
from __future__ import annotations

import io
from collections.abc import Collection, Iterator

import numpy as np
import pandas as pd
import psycopg
from psycopg import pq
from sqlalchemy import Table
from sqlalchemy.orm import Session

from services.models import TIME_SERIES_TABLES
from services.models.attribution import ATTRIBUTION_TIME_SERIES

NULL = "\\N"  # COPY text format's NULL
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
COPY_CHUNK_ROWS = 200_000  # rows formatted per piece of COPY data: bounds the memory the text takes


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
    """COPY `frame` into `table_name` on a psycopg cursor, as text built column-wise (see copy_text)."""
    columns, pieces = copy_text(frame, per_row=per_row)
    with cursor.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN") as copy:
        for piece in pieces:
            copy.write(piece)


def copy_text(frame: pd.DataFrame, chunk_rows: int = COPY_CHUNK_ROWS,
              per_row: Collection[str] = ()) -> tuple[list[str], Iterator[bytes]]:
    """`frame` as COPY text format: (the column order used, UTF-8 pieces of whole rows).

    Values are formatted once per distinct value, never per row: each column becomes codes into its distinct
    texts (escaped: backslash, tab, newline, carriage return; missing values as \\N). The columns in `per_row`
    (keys and the like, a value per row) are formatted row by row instead, saving the search for repeats.
    Columns are written from the most to the fewest distinct values, and neighbouring pieces whose
    combinations stay few are joined once per combination, so a row is one join of a few pieces."""
    n = len(frame)
    columns = [(name, _row_parts(frame[name]) if name in per_row else _column_parts(frame[name]))
               for name in frame.columns]
    columns.sort(key=lambda column: -max(len(texts) for _, texts in column[1]))
    pieces: list[tuple[np.ndarray, np.ndarray]] = []
    for i, (_, parts) in enumerate(columns):
        ends = [""] * (len(parts) - 1) + ["\n" if i == len(columns) - 1 else "\t"]
        pieces += [(codes, np.array([(t + end).encode() for t in texts], dtype=object))
                   for (codes, texts), end in zip(parts, ends)]
    pieces = _merge_neighbours(pieces, max(n // 4, 64))

    def chunks() -> Iterator[bytes]:
        for lo in range(0, n, chunk_rows):
            hi = min(lo + chunk_rows, n)
            arrays = [texts.take(codes[lo:hi]) for codes, texts in pieces]
            yield b"".join(map(b"".join, zip(*arrays)))

    return [name for name, _ in columns], chunks()


def _merge_neighbours(pieces: list[tuple[np.ndarray, np.ndarray]], limit: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pieces (codes, texts) in order, each run of neighbours with at most `limit` distinct combinations made one
    piece: its codes number the combinations, its texts are theirs joined."""
    merged = [pieces[0]]
    for codes, texts in pieces[1:]:
        last_codes, last_texts = merged[-1]
        joint = last_codes.astype(np.int64) * len(texts) + codes
        if len(last_texts) * len(texts) <= limit:  # every combination: no need to find the ones used
            merged[-1] = (joint, np.array([a + b for a in last_texts.tolist() for b in texts.tolist()], dtype=object))
            continue
        joint, used = pd.factorize(joint)
        if len(used) > limit:
            merged.append((codes, texts))
            continue
        left, right = np.divmod(used, len(texts))
        merged[-1] = (joint, np.array([a + b for a, b in zip(last_texts.take(left).tolist(), texts.take(right).tolist())],
                                      dtype=object))
    return merged


def _row_parts(series: pd.Series) -> list[tuple[np.ndarray, np.ndarray]]:
    """A column's COPY text formatted row by row (no grouping), as one part like _column_parts'."""
    missing = series.isna().to_numpy()
    present = series[~missing] if missing.any() else series
    texts = _texts(present.array)
    codes = np.full(len(series), len(texts) - 1, dtype=np.int64)
    codes[~missing] = np.arange(len(present))
    return [(codes, texts)]


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
        # integers (numpy or nullable: NA is never among the uniques)
        return np.array(list(map(str, np.asarray(uniques, dtype=np.int64 if dtype.kind == "i" else np.uint64).tolist()))
                        + [NULL], dtype=object)
    values = uniques.tolist() if hasattr(uniques, "tolist") else list(uniques)
    if isinstance(getattr(uniques, "dtype", None), np.dtype) and uniques.dtype.kind == "b":
        out = ["t" if v else "f" for v in values]
    elif isinstance(getattr(uniques, "dtype", None), np.dtype) and uniques.dtype.kind == "f":
        out = [repr(float(v)) for v in values]
    else:
        out = _string_texts(values)
    return np.array(out + [NULL], dtype=object)


def _string_texts(values: list) -> list[str]:
    """COPY texts of values that are mostly (usually all) strings, escaped only when something needs it."""
    try:
        blob = "\0".join(values)  # fails unless all are strings
    except TypeError:
        return [_text(v) for v in values]
    special = "\\" in blob or "\t" in blob or "\n" in blob or "\r" in blob
    return [v.translate(_ESCAPES) for v in values] if special else values


def _text(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value).translate(_ESCAPES)


def _datetime_parts(series: pd.Series) -> list[tuple[np.ndarray, np.ndarray]]:
    """Timestamps as two parts (day and minute; second, fraction and zone), each with few distinct texts. Aware
    timestamps are written in UTC with +00; naive ones without a zone."""
    aware = isinstance(series.dtype, pd.DatetimeTZDtype)
    naive = series.dt.tz_convert("UTC").dt.tz_localize(None) if aware else series
    missing = naive.isna().to_numpy()
    us = naive.to_numpy(dtype="datetime64[us]").view(np.int64)
    minute, rest = np.divmod(us, 60_000_000)
    zone = "+00" if aware else ""
    if missing.any():
        minute[missing], rest[missing] = np.iinfo(np.int64).min, -1
    minute_codes, minutes = pd.factorize(minute)
    # numpy formats the distinct minutes as YYYY-MM-DDTHH:MM; COPY wants a space for the T
    minute_texts = np.char.replace(np.datetime_as_string(minutes.astype("datetime64[m]"), unit="m"), "T", " ")
    minute_texts = minute_texts.astype(object)
    minute_texts[minutes == np.iinfo(np.int64).min] = NULL
    rest_codes, rests = pd.factorize(rest)
    # :SS, then .ffffff unless whole, then the zone; "" for a missing one (its minute part is \N)
    second, fraction = np.divmod(rests, 1_000_000)
    rest_texts = np.char.add(np.char.add(":", np.char.zfill(second.astype("U2"), 2)), np.where(
        fraction > 0, np.char.add(".", np.char.zfill(fraction.astype("U6"), 6)), ""))
    rest_texts = np.char.add(rest_texts, zone).astype(object)
    rest_texts[rests < 0] = ""
    return [(minute_codes.astype(np.int64), minute_texts),
            (rest_codes.astype(np.int64), rest_texts)]


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
