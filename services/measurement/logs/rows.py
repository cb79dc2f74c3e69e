"""Request rows as a parse yields them (COLUMNS, ParsedChunk, LogLineError) and typing candidate rows into them."""
from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from services.measurement.hashing import is_plain_ipv4
from services.measurement.logs.values import _METHOD_RE, _absolute_url, _compact, _excerpt, _per_row, _recode

COLUMNS = ["ts", "ip", "user_agent", "referer", "method", "url", "status", "bytes", "range", "line_no",
           "url_absolute"]


@dataclass(frozen=True)
class LogLineError:
    line_no: int
    reason: str
    text_excerpt: str


@dataclass
class ParsedChunk:
    """Requests parsed from the physical lines first_line..last_line (1-based) of a log, and its bad lines."""

    rows: pd.DataFrame
    errors: list[LogLineError] = field(default_factory=list)
    first_line: int = 0
    last_line: int = 0


@dataclass
class _Candidates:
    """Typed columns of rows that parsed; _assemble still rejects rows with a bad value.

    ts is datetime64[us] in UTC (NaT: bad); status -1: bad; nbytes -1: absent, -2: bad; text fields are
    Categoricals (see values.py), missing (None) where the log has "-" or nothing."""

    line_no: np.ndarray
    texts: Sequence
    ts: np.ndarray
    ip: pd.Categorical
    method: pd.Categorical
    target: pd.Categorical
    status: np.ndarray
    nbytes: np.ndarray
    referer: pd.Categorical
    user_agent: pd.Categorical
    range: pd.Categorical | None = None

    @staticmethod
    def concat(a: _Candidates, b: _Candidates) -> _Candidates:
        order = np.argsort(np.concatenate([a.line_no, b.line_no]), kind="stable")
        texts = _Texts([a.texts, b.texts], len(a.line_no))
        joined = {name: np.concatenate([getattr(a, name), getattr(b, name)])[order]
                  for name in ("line_no", "ts", "status", "nbytes")}
        joined |= {name: union_categoricals([getattr(a, name), getattr(b, name)])[order]
                   for name in ("ip", "method", "target", "referer", "user_agent")}
        return _Candidates(texts=_Reordered(texts, order), **joined)


@functools.lru_cache(maxsize=1 << 17)  # listeners' addresses recur from chunk to chunk of a log
def _is_ip(value: str) -> bool:
    if is_plain_ipv4(value):  # most addresses: a regex is much cheaper than ipaddress
        return True
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _assemble(c: _Candidates, errors: list[LogLineError], host: str | None,
              check_shapes: bool = False) -> ParsedChunk:
    """Move candidate rows with a bad value to `errors` and type the rest as COLUMNS.

    `check_shapes` checks the ip and method, which the combined reader has already checked."""
    reason = np.full(len(c.line_no), None, dtype=object)

    def flag(bad: np.ndarray, why: str) -> None:
        reason[bad & pd.isna(reason)] = why

    # Every format: the client address must be a real IPv4/IPv6 address (999.1.2.3 has the shape, not the value).
    flag(~_per_row(c.ip, _is_ip, bool, False), "bad client ip")
    flag(np.isnat(c.ts), "bad timestamp")
    if check_shapes:
        flag(~_per_row(c.method, lambda v: bool(_METHOD_RE.match(v.encode())), bool, False), "bad method")
    flag(c.status < 0, "bad status")
    flag(c.nbytes == -2, "bad bytes")
    keep = pd.isna(reason)
    if not keep.all():
        errors = errors + [LogLineError(int(c.line_no[i]), reason[i], _excerpt(c.texts[i]))
                           for i in np.flatnonzero(~keep)]
    errors.sort(key=lambda e: e.line_no)
    url = _compact(_recode(c.target[keep], lambda v: _absolute_url(v, host)))
    nbytes = c.nbytes[keep]
    no_range = pd.Categorical.from_codes(np.full(len(url), -1), categories=pd.Index([], dtype="str"))
    rows = pd.DataFrame({
        "ts": pd.DatetimeIndex(c.ts[keep]).tz_localize("UTC"),
        "ip": _compact(c.ip[keep]),
        "user_agent": _compact(c.user_agent[keep]),
        "referer": _compact(c.referer[keep]),
        "method": _compact(c.method[keep]),
        "url": url,
        "status": c.status[keep],
        "bytes": pd.arrays.IntegerArray(np.maximum(nbytes, 0), nbytes < 0),
        "range": no_range if c.range is None else _compact(c.range[keep]),
        "line_no": c.line_no[keep].astype(np.int64),
        "url_absolute": _per_row(url, lambda v: v.startswith(("https://", "http://")), bool, False),
    })
    return ParsedChunk(rows, errors)


class _Texts:
    """Index over two sequences of line texts, the second following the first."""

    def __init__(self, parts: list[Sequence], split: int):
        self._parts, self._split = parts, split

    def __getitem__(self, i: int):
        return self._parts[0][i] if i < self._split else self._parts[1][i - self._split]


class _Reordered:
    def __init__(self, texts, order: np.ndarray):
        self._texts, self._order = texts, order

    def __getitem__(self, i: int):
        return self._texts[int(self._order[i])]
