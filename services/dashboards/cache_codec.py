"""The dashboards' answers as JSON bytes for the Redis cache: DataFrames (column dtypes, values and attrs), the
answer dataclasses, dates, lists and dicts; nothing is ever unpickled from Redis."""
from __future__ import annotations

import dataclasses
import json
import math
from datetime import date, datetime

import numpy as np
import pandas as pd

from services.dashboards.episodes import EpisodeInfo
from services.dashboards.overview import KpiValues, OverviewKpis

# The dataclasses a cached answer may hold, by name: decoding builds only these.
DATACLASSES = {cls.__name__: cls for cls in (OverviewKpis, KpiValues, EpisodeInfo)}


class UnsupportedValue(TypeError):
    """An answer of a type this codec does not know: it is not cached."""


def encode(value) -> bytes:
    return json.dumps(_enc(value), separators=(",", ":"), allow_nan=True).encode()


def decode(data: bytes):
    return _dec(json.loads(data))


def _enc(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return {"$f": "nan"} if math.isnan(value) else float(value)
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, datetime)):
        return {"$ts": pd.Timestamp(value).isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, pd.DataFrame):
        return {"$frame": _frame(value)}
    if dataclasses.is_dataclass(value) and type(value).__name__ in DATACLASSES:
        return {"$dc": type(value).__name__,
                "fields": {f.name: _enc(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, (list, tuple)):
        return {"$list": [_enc(v) for v in value], "tuple": isinstance(value, tuple)}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"$dict": {k: _enc(v) for k, v in value.items()}}
    raise UnsupportedValue(f"cannot cache a {type(value).__name__}")


def _frame(frame: pd.DataFrame) -> dict:
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0 or frame.index.step != 1:
        raise UnsupportedValue("only frames with a default index are cached")
    if not all(isinstance(c, str) for c in frame.columns):
        raise UnsupportedValue("only frames with string column names are cached")
    return {"columns": list(frame.columns), "dtypes": [str(t) for t in frame.dtypes],
            "data": [[_enc(v) for v in frame[c].tolist()] for c in frame.columns],
            "rows": len(frame), "attrs": _enc(dict(frame.attrs))}


def _dec(value):
    if not isinstance(value, dict):
        return value
    if "$f" in value:
        return float("nan")
    if "$ts" in value:
        return pd.Timestamp(value["$ts"])
    if "$date" in value:
        return date.fromisoformat(value["$date"])
    if "$list" in value:
        items = [_dec(v) for v in value["$list"]]
        return tuple(items) if value.get("tuple") else items
    if "$dict" in value:
        return {k: _dec(v) for k, v in value["$dict"].items()}
    if "$dc" in value:
        cls = DATACLASSES[value["$dc"]]
        return cls(**{k: _dec(v) for k, v in value["fields"].items()})
    if "$frame" in value:
        spec = value["$frame"]
        columns = {name: _column([_dec(v) for v in data], dtype, spec["rows"])
                   for name, dtype, data in zip(spec["columns"], spec["dtypes"], spec["data"])}
        frame = pd.DataFrame(columns, index=pd.RangeIndex(spec["rows"]), columns=spec["columns"])
        frame.attrs.update(_dec(spec["attrs"]))
        return frame
    raise ValueError("not a cached dashboard answer")


def _column(values: list, dtype: str, rows: int) -> pd.Series:
    if dtype == "object":
        return pd.Series(values, dtype=object, index=pd.RangeIndex(rows))
    if dtype.startswith("datetime64"):
        return pd.Series(pd.to_datetime(values), index=pd.RangeIndex(rows)).astype(dtype)
    return pd.Series(values, index=pd.RangeIndex(rows)).astype(dtype)
