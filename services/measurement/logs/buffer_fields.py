"""Fields read in place from a chunk's bytes: distinct values by Arrow, byte counts and timestamps by numpy."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from services.measurement.logs.values import _MONTH_NAMES, _coded

_TS_DIGITS = [0, 1, 7, 8, 9, 10, 12, 13, 15, 16, 18, 19, 22, 23, 24, 25]
_TS_PUNCTUATION = {2: b"/", 6: b"/", 11: b":", 14: b":", 17: b":", 20: b" "}
_TS_MINUTE_SECOND = [15, 16, 18, 19]
_MONTH_KEYS = np.array([(m[0] << 16) | (m[1] << 8) | m[2] for m in _MONTH_NAMES])
_MONTH_ORDER = np.argsort(_MONTH_KEYS)
_MAX_BYTES_DIGITS = 18
_WINDOW = 32  # fixed-width views of the buffer this wide read the short fields (timestamp, status, byte count)


def _map_fields(data: bytes, begin: np.ndarray, end: np.ndarray, func: Callable) -> pd.Categorical:
    """func (giving a string or None) applied once per distinct field data[begin:end], as a Categorical.

    The fields are told apart by Arrow's hashing, in C++, without a Python object per row: the chunk's bytes are
    read as one binary array whose offsets alternate field starts and ends (a field, then the gap to the next
    one), whose every other value is taken and dictionary-encoded. That needs each field to end before the next
    begins, as fields of one column on successive lines do; anything else is grouped the slow way."""
    n = len(begin)
    if n == 0:
        return _coded(np.array([], dtype=np.int64), [])
    offsets = np.empty(2 * n, dtype=np.int64)
    offsets[0::2] = begin
    offsets[1::2] = end
    if offsets[0] < 0 or offsets[-1] > len(data) or (np.diff(offsets) < 0).any():
        codes, uniques = pd.factorize(np.asarray(
            [data[a:b] for a, b in zip(begin.tolist(), end.tolist())], dtype=object))
        return _coded(codes, [func(v) for v in uniques])
    both = pa.LargeBinaryArray.from_buffers(pa.large_binary(), 2 * n - 1,
                                            [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    encoded = both.take(pa.array(np.arange(0, 2 * n, 2, dtype=np.int64))).dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    return _coded(codes, [func(v) for v in encoded.dictionary.to_pylist()])


def _is_digit(values: np.ndarray) -> np.ndarray:
    return (values >= ord("0")) & (values <= ord("9"))


def _digits_before(windows: np.ndarray, end: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The decimal numbers ending before `end`, `length` (1-18) bytes long (a lone "-" is -1), and whether
    each is one."""
    digits = windows[np.maximum(end - _MAX_BYTES_DIGITS, 0), :_MAX_BYTES_DIGITS].astype(np.int64) - ord("0")
    inside = np.arange(_MAX_BYTES_DIGITS) >= _MAX_BYTES_DIGITS - length[:, None]  # right-aligned
    digits[~inside] = 0
    ok = ((digits >= 0) & (digits <= 9)).all(axis=1) & (end >= _MAX_BYTES_DIGITS)
    value = digits @ (10 ** np.arange(_MAX_BYTES_DIGITS - 1, -1, -1, dtype=np.int64))
    dash = (length == 1) & (digits[:, -1] == ord("-") - ord("0"))
    return np.where(dash, -1, value), ok | dash


def _combined_ts_runs(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """_combined_ts_vectorised, with the date, hour and zone worked out once per run of lines that share them
    (logs are nearly in time order: an hour's lines come together) and only the minute and second per line."""
    if not len(t):
        return np.array([], dtype="datetime64[us]"), np.array([], dtype=bool)
    new = np.ones(len(t), dtype=bool)
    new[1:] = (t[1:, :14] != t[:-1, :14]).any(axis=1) | (t[1:, 20:26] != t[:-1, 20:26]).any(axis=1)
    hours = t[new]
    hours[:, _TS_MINUTE_SECOND] = ord("0")  # each run's hour, at minute and second zero
    hour_ts, hour_ok = _combined_ts_vectorised(hours)
    run = np.cumsum(new) - 1
    m1, m2, s1, s2 = (t[:, col].astype(np.int64) - ord("0") for col in _TS_MINUTE_SECOND)
    ok = hour_ok[run] & (t[:, 14] == ord(":")) & (t[:, 17] == ord(":")) & (m1 >= 0) & (m1 <= 5) & (s1 >= 0) & (s1 <= 5)
    ok &= (m2 >= 0) & (m2 <= 9) & (s2 >= 0) & (s2 <= 9)
    seconds = (m1 * 10 + m2) * 60 + s1 * 10 + s2
    return hour_ts[run] + (seconds * 1_000_000).astype("timedelta64[us]"), ok


def _combined_ts_vectorised(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 26 bytes `10/Oct/2000:13:55:36 -0700` -> datetime64[us] in UTC, and which rows were valid."""
    ok = _is_digit(t[:, _TS_DIGITS]).all(axis=1)
    for pos, char in _TS_PUNCTUATION.items():
        ok &= t[:, pos] == char[0]
    ok &= (t[:, 21] == ord("+")) | (t[:, 21] == ord("-"))
    d = t.astype(np.int64) - ord("0")

    def number(*cols: int) -> np.ndarray:
        out = np.zeros(len(t), dtype=np.int64)
        for col in cols:
            out = out * 10 + d[:, col]
        return out

    day, year = number(0, 1), number(7, 8, 9, 10)
    hour, minute, second = number(12, 13), number(15, 16), number(18, 19)
    offset = (number(22, 23) * 60 + number(24, 25)) * np.where(t[:, 21] == ord("-"), -1, 1)
    lower = t[:, 3:6].astype(np.int64) | 0x20
    key = (lower[:, 0] << 16) | (lower[:, 1] << 8) | lower[:, 2]
    month = _MONTH_ORDER[np.minimum(np.searchsorted(_MONTH_KEYS[_MONTH_ORDER], key), 11)] + 1
    ok &= _MONTH_KEYS[month - 1] == key
    first_of_month = ((np.clip(year, 1, 9999) - 1970) * 12 + month - 1).astype("datetime64[M]")
    days_in_month = ((first_of_month + 1).astype("datetime64[D]") - first_of_month.astype("datetime64[D]")).astype(int)
    ok &= (day >= 1) & (day <= days_in_month) & (hour <= 23) & (minute <= 59) & (second <= 59)
    ok &= (np.abs(offset) < 24 * 60) & (number(24, 25) <= 59) & (year >= 1)
    local = first_of_month.astype("datetime64[D]") + (day - 1)
    seconds = local.astype("datetime64[s]").astype(np.int64) + hour * 3600 + minute * 60 + second - offset * 60
    return (seconds * 1_000_000).astype("datetime64[us]"), ok
