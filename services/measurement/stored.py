"""Reading the rows a recount would write back from the database, to compare: a recount that changes nothing (the
usual case) then rewrites nothing (services.measurement.store). One COPY ... TO STDOUT per table and slab."""
from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from services.bulk import CopyOut


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00 UTC, the day after last 00:00 UTC)."""
    return (datetime.combine(first, time.min, tzinfo=timezone.utc),
            datetime.combine(last + timedelta(days=1), time.min, tzinfo=timezone.utc))


_COMPARED_TEXT = ["listener_key", "app", "device", "os", "country", "region", "referrer", "household_key"]


def stored_downloads_equal(session: Session, tenant_id: int, start: datetime, end: datetime,
                            frame: pd.DataFrame) -> bool:
    """Whether the tenant's stored downloads in [start, end) are exactly the rows of `frame` (DOWNLOAD_COLUMNS,
    flags set), NULL told from ''. Read back with one COPY."""
    nullable = _COMPARED_TEXT[1:]
    nulls = " + ".join(f"({c} IS NULL)::int * {1 << i}" for i, c in enumerate(nullable))
    sql = (f"COPY (SELECT (extract(epoch FROM ts) * 1000000)::int8, episode_id, podcast_id, flags, "
           f"{', '.join(_COMPARED_TEXT)}, {nulls} FROM downloads WHERE tenant_id = %s AND ts >= %s AND ts < %s) "
           f"TO STDOUT WITH (FORMAT csv)")
    names = ["ts", "episode_id", "podcast_id", "flags", *_COMPARED_TEXT, "nulls"]
    raw = session.connection().connection.driver_connection
    with CopyOut(raw, sql, (tenant_id, start, end)) as stream:
        stream = io.BufferedReader(stream, buffer_size=1 << 20)
        if not stream.peek(1):
            return False
        stored = pd.read_csv(stream, header=None, names=names, keep_default_na=False, na_filter=False,
                             low_memory=False, dtype={"ts": "int64", "episode_id": "int64", "podcast_id": "int64",
                                                      "flags": "int64", "nulls": "int64",
                                                      **{c: object for c in _COMPARED_TEXT}})
    if len(stored) != len(frame):
        return False
    new_ts = pd.to_datetime(frame["ts"], utc=True).dt.tz_localize(None).to_numpy(dtype="datetime64[us]").view(np.int64)
    new = pd.DataFrame({"ts": new_ts, "episode_id": frame["episode_id"].to_numpy(np.int64),
                        "podcast_id": frame["podcast_id"].to_numpy(np.int64),
                        "flags": frame["flags"].to_numpy(np.int64)})
    stored_nulls = stored["nulls"].to_numpy()
    for i, name in enumerate(_COMPARED_TEXT):
        values = frame[name].astype(object).to_numpy()
        missing = pd.isna(values)
        if name == "listener_key" and missing.any():
            return False
        new[name] = np.where(missing, None, values)
        if name in nullable:
            bit = 1 << nullable.index(name)
            stored[name] = np.where((stored_nulls & bit) != 0, None, stored[name].to_numpy())
    key = ["ts", "episode_id", "listener_key"]
    stored = stored.drop(columns="nulls").sort_values(key, kind="stable").reset_index(drop=True)
    new = new[stored.columns].sort_values(key, kind="stable").reset_index(drop=True)
    for name in stored.columns:
        a, b = stored[name].to_numpy(), new[name].to_numpy()
        if a.dtype == object or b.dtype == object:  # missing matches only missing; '' is a value
            a, b = a.astype(object), b.astype(object)
            missing = pd.isna(a)
            if not (missing == pd.isna(b)).all():
                return False
            a, b = a[~missing], b[~missing]
        if not (a == b).all():
            return False
    return True


_EPOCH_DAY = date(1970, 1, 1)


def stored_rollup_equal(session: Session, model, keys: list[str], tenant_id: int, first: date, last: date,
                         rows: pd.DataFrame) -> bool:
    """Whether the rollup's stored rows for the tenant's days first..last are exactly `rows` (one of
    rollup_frames' frames). Read back with one COPY; rollup keys are never NULL (missing values are filled)."""
    if not (rows["tenant_id"].to_numpy() == tenant_id).all():
        return False
    names = ["podcast_id"] + keys
    selected = []
    for name in names:
        if name == "hour":
            selected.append("(extract(epoch FROM hour) * 1000000)::int8")
        elif name == "day":
            selected.append("(day - DATE '1970-01-01')")
        else:
            selected.append(name)
    start, end = day_bounds(first, last)
    span, params = ("hour >= %s AND hour < %s", (tenant_id, start, end)) if "hour" in names else \
        ("day BETWEEN %s AND %s", (tenant_id, first, last))
    table_name = model.__tablename__
    sql = (f"COPY (SELECT {', '.join(selected)}, downloads, listeners FROM {table_name} WHERE tenant_id = %s "
           f"AND {span}) TO STDOUT WITH (FORMAT csv)")
    text_names = [n for n in names if n not in ("podcast_id", "episode_id", "day", "hour")]
    raw = session.connection().connection.driver_connection
    with CopyOut(raw, sql, params) as stream:
        stream = io.BufferedReader(stream, buffer_size=1 << 20)
        if not stream.peek(1):
            return False
        stored = pd.read_csv(stream, header=None, names=names + ["downloads", "listeners"], keep_default_na=False,
                             na_filter=False, low_memory=False,
                             dtype={n: (object if n in text_names else "int64")
                                    for n in names + ["downloads", "listeners"]})
    if len(stored) != len(rows):
        return False
    new = pd.DataFrame(index=range(len(rows)))
    for name in names:
        column = rows[name]
        if name == "hour":
            values = pd.to_datetime(column, utc=True).dt.tz_localize(None).to_numpy(dtype="datetime64[us]").view(
                np.int64)
        elif name == "day":
            values = _day_numbers(column)
        elif name in text_names:
            values = column.astype(object).to_numpy()
            if pd.isna(values).any():
                return False
        else:
            values = column.to_numpy(dtype=np.int64)
        new[name] = values
    new["downloads"] = rows["downloads"].to_numpy(dtype=np.int64)
    new["listeners"] = rows["listeners"].to_numpy(dtype=np.int64)
    stored = stored.sort_values(names, kind="stable").reset_index(drop=True)
    new = new.sort_values(names, kind="stable").reset_index(drop=True)
    return all((stored[c].to_numpy() == new[c].to_numpy()).all() for c in stored.columns)


def _day_numbers(column: pd.Series) -> np.ndarray:
    """Dates (python dates, categorical or not) as days since 1970-01-01."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        numbers = np.array([(d - _EPOCH_DAY).days for d in column.cat.categories], dtype=np.int64)
        return numbers[column.cat.codes.to_numpy()]
    return np.array([(d - _EPOCH_DAY).days for d in column.tolist()], dtype=np.int64)
