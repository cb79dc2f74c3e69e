"""Fast bulk writes of DataFrames: COPY on PostgreSQL, executemany on SQLite, in the caller's transaction."""
from __future__ import annotations

import pandas as pd
from sqlalchemy import Table
from sqlalchemy.orm import Session

from services.models import TIME_SERIES_TABLES


def insert_frame(session: Session, table: Table, frame: pd.DataFrame, skip_existing: bool = False) -> int:
    """Insert every row of `frame` (columns named as the table's) into `table`.

    `skip_existing` ignores rows whose primary key is already there (a replayed hit, a re-imported line); the
    count returned is of rows actually inserted."""
    if frame.empty:
        return 0
    columns = list(frame.columns)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        cols = ", ".join(columns)
        frame = frame.astype(object).where(frame.notna(), None)  # pandas' NA/NaT/NaN -> SQL NULL
        raw = connection.connection.driver_connection
        if table.name in TIME_SERIES_TABLES and not skip_existing:
            # Time-series tables carry no row-level security: COPY straight in.
            with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
                for row in frame.itertuples(index=False, name=None):
                    copy.write_row(row)
            return len(frame)
        # COPY cannot write through row-level security (nor skip existing keys), so it fills a temporary table
        # and one INSERT ... SELECT moves the rows, with the policy's WITH CHECK applied to each.
        with raw.cursor() as cur:
            cur.execute(f"CREATE TEMP TABLE _bulk_{table.name} ON COMMIT DROP AS "
                        f"SELECT {cols} FROM {table.name} WITH NO DATA")
            with cur.copy(f"COPY _bulk_{table.name} ({cols}) FROM STDIN") as copy:
                for row in frame.itertuples(index=False, name=None):
                    copy.write_row(row)
            conflict = " ON CONFLICT DO NOTHING" if skip_existing else ""
            cur.execute(f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM _bulk_{table.name}{conflict}")
            inserted = cur.rowcount
            cur.execute(f"DROP TABLE _bulk_{table.name}")
    else:
        # Straight to sqlite3 with plain tuples: SQLAlchemy's per-row parameter processing costs more than
        # the insert. Datetimes are written the way SQLAlchemy's SQLite DateTime type reads them back.
        out = frame.copy()
        for name in columns:
            if isinstance(out[name].dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(out[name]):
                series = out[name].dt.tz_convert(None) if isinstance(out[name].dtype, pd.DatetimeTZDtype) else out[name]
                out[name] = series.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
        out = out.astype(object).where(out.notna(), None)
        verb = "INSERT OR IGNORE" if skip_existing else "INSERT"
        sql = f"{verb} INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        cursor = connection.connection.driver_connection.executemany(sql, out.itertuples(index=False, name=None))
        inserted = cursor.rowcount
    return inserted
