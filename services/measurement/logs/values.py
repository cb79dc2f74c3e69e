"""Per-value conversions of log fields (decoding, unescaping, URLs, numbers, times) and the shapes they must have."""
from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

import numpy as np
import pandas as pd

# Agents, URLs and IPs repeat heavily in logs, so conversions run once per distinct value (_map_unique), and text
# fields stay pandas Categoricals (each row a code into the distinct values) from the parse to the COPY, so the
# import's later steps (episode matching, listener keys, COPY text) never hash the same strings again.

EXCERPT_CHARS = 200
_IP = rb"[0-9A-Fa-f:.]+"
_IP_RE = re.compile(_IP + rb"\Z")
_METHOD_RE = re.compile(rb"[A-Za-z]+\Z")
_STATUS_RE = re.compile(rb"[0-9]{3}\Z")
_BYTES_RE = re.compile(rb"[0-9]{1,18}\Z")
_ESCAPE = re.compile(rb'\\x([0-9A-Fa-f]{2})|\\(["\\])')
_MONTH_NAMES = (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec")


def _map_unique(values: np.ndarray, func: Callable, dtype=object) -> np.ndarray:
    """func applied once per distinct value."""
    if len(values) == 0:
        return np.asarray([], dtype=dtype)
    codes, uniques = pd.factorize(values)
    return np.asarray([func(v) for v in uniques], dtype=dtype).take(codes)


def _coded(codes: np.ndarray, values) -> pd.Categorical:
    """Rows as codes into per-code `values` (strings, which may repeat, or None) -> a Categorical of the
    distinct strings, None as missing."""
    value_codes, distinct = pd.factorize(np.asarray(values, dtype=object))
    return pd.Categorical.from_codes(value_codes.take(np.asarray(codes, dtype=np.int64)),
                                     categories=pd.Index(distinct, dtype="str"))


def _map_coded(values: np.ndarray, func: Callable) -> pd.Categorical:
    """func (giving a string or None) applied once per distinct value, as a Categorical (missing where the value
    is)."""
    return _apply_per_code(*pd.factorize(values), func)


def _per_row(column: pd.Categorical, func: Callable, dtype, missing) -> np.ndarray:
    """func of each row's value, worked out once per category; `missing` where the value is."""
    return np.asarray([func(v) for v in column.categories] + [missing], dtype=dtype).take(column.codes)


def _recode(column: pd.Categorical, func: Callable) -> pd.Categorical:
    """func (giving a string or None) applied to each category, as a Categorical of the distinct results."""
    return _apply_per_code(column.codes, column.categories, func)


def _apply_per_code(codes: np.ndarray, distinct, func: Callable) -> pd.Categorical:
    """Rows as codes into `distinct` (-1: missing) -> a Categorical of func of each row's value, missing stays so."""
    return _coded(np.where(codes < 0, len(distinct), codes), [func(v) for v in distinct] + [None])


def _compact(column: pd.Categorical) -> pd.Categorical:
    """The same values with only the categories used, in order of first appearance: equal columns compare equal
    however they were built."""
    codes, used = pd.factorize(column.codes)
    return _coded(codes, np.append(np.asarray(column.categories, dtype=object), None).take(used))


def _parse_iso_utc(values: np.ndarray, to_iso: Callable | None) -> np.ndarray:
    """Timestamps -> datetime64[us] in UTC (offsets honoured, none means UTC), NaT where unparseable;
    `to_iso` first rewrites each distinct value to ISO 8601 (None for a bad one)."""
    if len(values) == 0:
        return np.array([], dtype="datetime64[us]")
    codes, uniques = pd.factorize(values)
    if to_iso is not None:
        uniques = [to_iso(v) for v in uniques]
    ts = pd.to_datetime(pd.Index(uniques, dtype=object), format="ISO8601", utc=True, errors="coerce")
    return ts.tz_localize(None).as_unit("us").to_numpy().take(codes)


def _status_codes(values: np.ndarray) -> np.ndarray:
    """Three-digit statuses as int64, -1 for anything else."""
    def code(v: bytes | str) -> int:
        raw = v.encode() if isinstance(v, str) else v
        return int(raw) if _STATUS_RE.match(raw) else -1
    return _map_unique(values, code, dtype=np.int64)


def _byte_counts(values: np.ndarray) -> np.ndarray:
    """Byte counts as int64: -1 where absent ("-" or empty), -2 where not a count."""
    def count(v: bytes | str) -> int:
        raw = v.encode() if isinstance(v, str) else v
        return -1 if raw in (b"-", b"") else int(raw) if _BYTES_RE.match(raw) else -2
    return np.fromiter((count(v) for v in values), dtype=np.int64, count=len(values))


def _absolute_url(target: str, host: str | None) -> str:
    if target.startswith("//"):
        return "https:" + target
    if target.startswith("/") and host:
        return f"https://{host}{target}"
    return target  # already absolute (proxy-style request line, CSV export), or path-only with no host known


def _clean_host(host: str | None) -> str | None:
    if not host or not host.strip():
        return None
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", host.strip(), flags=re.IGNORECASE)
    return host.split("/", 1)[0] or None


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _unescape_or_none(value: bytes) -> str | None:
    if value in (b"-", b""):
        return None
    if b"\\" in value:
        value = _ESCAPE.sub(lambda m: bytes([int(m[1], 16)]) if m[1] else m[2], value)
    return value.decode("utf-8", "replace")


def _unquote_or_none(value: bytes) -> str | None:
    return None if value in (b"-", b"") else unquote(_decode(value))


def _none_if_blank(value: bytes | str) -> str | None:
    return None if value in (b"-", b"", "-", "") else _decode(value)


def _excerpt(line: bytes | str) -> str:
    return _decode(line).rstrip("\r")[:EXCERPT_CHARS]
