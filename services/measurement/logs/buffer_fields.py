"""Fields read in place from a chunk's bytes with numpy: distinct values by hash, byte counts, combined timestamps."""
from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import pandas as pd

from services.measurement.logs.values import _MONTH_NAMES, _coded

_TS_DIGITS = [0, 1, 7, 8, 9, 10, 12, 13, 15, 16, 18, 19, 22, 23, 24, 25]
_TS_PUNCTUATION = {2: b"/", 6: b"/", 11: b":", 14: b":", 17: b":", 20: b" "}
_MONTH_KEYS = np.array([(m[0] << 16) | (m[1] << 8) | m[2] for m in _MONTH_NAMES])
_MONTH_ORDER = np.argsort(_MONTH_KEYS)
_MAX_BYTES_DIGITS = 18
_WINDOW = 256  # fields up to this long are told apart by hashing their bytes in place; longer ones are cut out
_BYTE_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)  # low k bytes of a word (little-endian)
_HASH_KEYS = np.random.default_rng(20231010).integers(1, 2**63, size=_WINDOW // 8, dtype=np.uint64) | np.uint64(1)


def _map_fields(data: bytes, windows: np.ndarray, begin: np.ndarray, end: np.ndarray, func: Callable) -> pd.Categorical:
    """func (giving a string or None) applied once per distinct field data[begin:end], as a Categorical. Fields
    that fit a window are grouped in place (_group_in_place), so no object is made per row; longer ones are cut out."""
    length = end - begin
    codes = np.empty(len(begin), dtype=np.int64)
    values: list = []
    fits = length <= _WINDOW
    if not fits.all():
        long = np.flatnonzero(~fits)
        codes[long], uniques = pd.factorize(np.asarray(
            [data[a:b] for a, b in zip(begin[long].tolist(), end[long].tolist())], dtype=object))
        values = [func(v) for v in uniques]
    short = np.flatnonzero(fits)
    if len(short):
        short_codes, first = _group_in_place(windows, begin[short], length[short])
        codes[short] = short_codes + len(values)
        values += [func(data[a:b]) for a, b in zip(begin[short][first].tolist(), end[short][first].tolist())]
    return _coded(codes, values)


def _group_in_place(windows: np.ndarray, begin: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the distinct fields (each at most a window long) and the first row with each: grouped by a hash of
    their bytes, checked byte for byte afterwards."""
    width = max(8, -(-int(length.max()) // 8) * 8)
    # Read through the package, where tests swap the keys to force collisions; patch it there, not here.
    hash_keys = sys.modules[__package__]._HASH_KEYS
    words = windows[begin, :width].view("<u8")  # a copy (row-wise fancy indexing), read little-endian
    words &= _BYTE_MASKS[np.clip(length[:, None] - np.arange(0, width, 8), 0, 8)]  # zero what follows the field
    with np.errstate(over="ignore"):
        key = (words * hash_keys[:width // 8]).sum(axis=1, dtype=np.uint64) ^ length.astype(np.uint64)
    codes, _ = pd.factorize(key)
    first = _first_of_each(codes)
    if not ((words == words[first[codes]]).all() and (length == length[first[codes]]).all()):
        # a hash collision: group exactly, word by word
        codes, _ = pd.factorize(length)
        for word in words.T:
            word_codes, uniques = pd.factorize(word)
            codes, _ = pd.factorize(codes * len(uniques) + word_codes)
        first = _first_of_each(codes)
    return codes, first


def _first_of_each(codes: np.ndarray) -> np.ndarray:
    first = np.empty(codes.max() + 1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    return first


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
    """_combined_ts_vectorised, computed once per run of equal timestamps (logs are nearly in time order)."""
    if not len(t):
        return np.array([], dtype="datetime64[us]"), np.array([], dtype=bool)
    new = np.ones(len(t), dtype=bool)
    new[1:] = (t[1:] != t[:-1]).any(axis=1)
    ts, ok = _combined_ts_vectorised(t[new])
    run = np.cumsum(new) - 1
    return ts[run], ok[run]


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
