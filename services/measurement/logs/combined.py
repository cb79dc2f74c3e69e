"""The combined (Apache/nginx) format: a vectorised reader for well-formed lines, the strict regex for the rest."""
from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from services.measurement.logs.buffer_fields import (
    _MAX_BYTES_DIGITS,
    _WINDOW,
    _combined_ts_runs,
    _digits_before,
    _is_digit,
    _map_fields,
)
from services.measurement.logs.rows import LogLineError, ParsedChunk, _assemble, _Candidates
from services.measurement.logs.values import (
    _BYTES_RE,
    _IP,
    _IP_RE,
    _METHOD_RE,
    _MONTH_NAMES,
    _STATUS_RE,
    _byte_counts,
    _coded,
    _decode,
    _excerpt,
    _map_coded,
    _parse_iso_utc,
    _status_codes,
    _unescape_or_none,
)

# A chunk is one bytes buffer: lines are located with numpy over the whole buffer, and the few lines that
# reader cannot vouch for go through one anchored regex, which is the reference for what a good line is.

# A quoted field's body with backslash escapes (Apache writes \" and \\, nginx \x22); never crosses a line.
_QUOTED = rb'[^"\\\n]*(?:\\.[^"\\\n]*)*'
_HTTP_VERSION = rb"HTTP/[0-9](?:\.[0-9])?"
# Each line yields exactly one match: group 1 is a good line, groups 2-9 its fields; else group 10 is the line.
_COMBINED = re.compile(
    rb"(?m)^(?:((" + _IP + rb") [^ \n]+ [^ \n]+ \[([^\]\n]*)\] "
    rb'"([A-Za-z]+) ([^ "\n]+)(?: ' + _HTTP_VERSION + rb')?" ([0-9]{3}) ([0-9]+|-) '
    rb'"(' + _QUOTED + rb')" "(' + _QUOTED + rb')"(?:[ \t][^\n]*)?)|(.*))$'
)
# A looser shape, tried only on lines the strict pattern rejected, to say which part is wrong.
_COMBINED_LOOSE = re.compile(rb'^(\S+) \S+ \S+ \[([^\]\n]*)\] "(' + _QUOTED + rb')" (\S+) (\S+)')
_COMBINED_TS = re.compile(rb"[0-9]{2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}\Z")
_HTTP_VERSION_RE = re.compile(_HTTP_VERSION + rb"\Z")
_REQUEST_RE = re.compile(rb'[A-Za-z]+ [^ "]+(?: ' + _HTTP_VERSION + rb')?\Z')
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, start=1)}
_PAD = 64  # zeros before a chunk's bytes (see _combined_vectorised)


def _parse_combined(data: bytes, first_line_no: int, host: str | None) -> ParsedChunk:
    """The vectorised reader takes the lines it can vouch for; the regex reader takes the rest and says why
    a bad line is bad. Both accept exactly the same lines with the same fields."""
    candidates, slow, slow_lines = _combined_vectorised(data)
    candidates.line_no += first_line_no
    if not len(slow):
        return _assemble(candidates, [], host)
    slow_candidates, errors = _combined_regex(slow_lines, first_line_no + slow)
    return _assemble(_Candidates.concat(candidates, slow_candidates), errors, host)


def _combined_regex(data: bytes, line_nos: np.ndarray) -> tuple[_Candidates, list[LogLineError]]:
    matches = _COMBINED.findall(data)
    if len(matches) != len(line_nos):  # cannot happen with the anchored pattern; guards the line numbers
        raise RuntimeError("combined log parser lost track of lines")
    cols = [np.asarray(c, dtype=object) for c in zip(*matches)]
    good = cols[0] != b""
    errors = [LogLineError(int(line_nos[i]), _combined_reason(cols[9][i]), _excerpt(cols[9][i]))
              for i in np.flatnonzero(~good) if cols[9][i].strip()]
    cols = [c[good] for c in cols]
    return _Candidates(
        line_no=line_nos[good], texts=cols[0],
        ts=_parse_iso_utc(cols[2], _combined_ts_to_iso), ip=_map_coded(cols[1], bytes.decode),
        method=_map_coded(cols[3], bytes.decode), target=_map_coded(cols[4], _decode),
        status=_status_codes(cols[5]), nbytes=_byte_counts(cols[6]),
        referer=_map_coded(cols[7], _unescape_or_none), user_agent=_map_coded(cols[8], _unescape_or_none),
    ), errors


def _combined_reason(line: bytes) -> str:
    m = _COMBINED_LOOSE.match(line)
    if not m:
        return "unparseable line"
    ip, ts, request, status, nbytes = m.groups()
    if not _IP_RE.match(ip):
        return "bad client ip"
    if not _COMBINED_TS.match(ts):
        return "bad timestamp"
    if not _REQUEST_RE.match(request):
        return "bad request line"
    if not _STATUS_RE.match(status):
        return "bad status"
    if nbytes != b"-" and not _BYTES_RE.match(nbytes):
        return "bad bytes"
    return "missing or malformed referer/user-agent"


def _combined_vectorised(data: bytes) -> tuple[_Candidates, np.ndarray, bytes]:
    """Find the fields of every well-formed line by the positions of its quotes and spaces, all lines at once.

    Takes a line only when the strict regex would take it with the same fields and its values convert
    cleanly; returns those candidates (line_no 0-based in the chunk), the other lines' offsets and those lines
    (joined by newlines, for the regex)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    # The buffer between zeros: a byte looked up a little before its start or after its end reads 0, which no check
    # below accepts (such a line goes to the regex), and fixed-width views at any offset gather short fields
    # row-wise without copying.
    padded = np.concatenate([np.zeros(_PAD, np.uint8), buf, np.zeros(_WINDOW, np.uint8)])
    windows = np.lib.stride_tricks.sliding_window_view(padded[_PAD:], _WINDOW)
    newlines = np.flatnonzero(buf == ord("\n"))
    starts = np.concatenate(([0], newlines + 1))
    ends = np.append(newlines, len(buf))
    n = len(starts)
    quotes, backslashes, too_many = _unescaped_quotes(buf)
    spaces = np.flatnonzero(buf == ord(" "))
    if len(quotes) < 6 or len(spaces) < 3:
        return _no_candidates(), np.arange(n), data

    def at(pos: np.ndarray) -> np.ndarray:  # every position asked for lies within _PAD of the buffer
        return padded[pos + _PAD]

    def line_of(pos: np.ndarray) -> np.ndarray:
        return np.searchsorted(starts, pos, side="right") - 1

    # A line is `ip ident user [ts] "request" status bytes "referer" "agent"[ extra]`: its first six quotes.
    k = np.searchsorted(quotes, starts)
    ok = k + 5 < len(quotes)
    k = np.minimum(k, len(quotes) - 6)
    q0, q1, q2, q3, q4, q5 = (quotes[k + j] for j in range(6))
    ok &= q5 < ends
    ok[line_of(too_many)] = False
    if len(backslashes):  # escapes are unescaped in referer and agent only; elsewhere the regex decides
        line = line_of(backslashes)
        inside = ((backslashes > q2[line]) & (backslashes < q3[line])) | \
                 ((backslashes > q4[line]) & (backslashes < q5[line]))
        ok[line[~inside]] = False
    ts0 = q0 - 28  # the 26-byte timestamp sits between "[" and "] " before the request's quote
    ok &= (at(q0 - 1) == ord(" ")) & (at(q0 - 2) == ord("]")) & (at(ts0 - 1) == ord("[")) & (at(ts0 - 2) == ord(" "))
    first_space = np.searchsorted(spaces, starts)
    ok &= np.searchsorted(spaces, ts0 - 2, side="right") - first_space == 3  # ip, ident, user: one space apart
    sp0, sp1 = (spaces[np.minimum(first_space + j, len(spaces) - 1)] for j in (0, 1))
    ok &= (sp0 > starts) & (sp1 > sp0 + 1) & (ts0 - 2 > sp1 + 1)
    req_space = np.searchsorted(spaces, q0)
    req_spaces = np.searchsorted(spaces, q1) - req_space  # "METHOD target" or "METHOD target HTTP/x.y"
    spa, spb = (spaces[np.minimum(req_space + j, len(spaces) - 1)] for j in (0, 1))
    version_len = q1 - spb - 1  # HTTP/1 or HTTP/1.1
    version_ok = (version_len == 6) | ((version_len == 8) & (at(spb + 7) == ord(".")) & _is_digit(at(spb + 8)))
    for j, char in enumerate(b"HTTP/", start=1):
        version_ok &= at(spb + j) == char
    version_ok &= _is_digit(at(spb + 6))
    ok &= (req_spaces == 1) | ((req_spaces == 2) & version_ok)
    target_end = np.where(req_spaces == 2, spb, q1)
    ok &= (spa > q0 + 1) & (target_end > spa + 1)
    ok &= (at(q1 + 1) == ord(" ")) & (at(q1 + 5) == ord(" ")) & (at(q2 - 1) == ord(" "))
    for j in (2, 3, 4):
        ok &= _is_digit(at(q1 + j))
    bytes_len = (q2 - 1) - (q1 + 6)
    ok &= (bytes_len >= 1) & (bytes_len <= _MAX_BYTES_DIGITS)
    ok &= (q4 == q3 + 2) & (at(q3 + 1) == ord(" "))
    ok &= (q5 + 1 == ends) | (at(q5 + 1) == ord(" ")) | (at(q5 + 1) == ord("\t"))

    rows = np.flatnonzero(ok)
    nbytes, bytes_ok = _digits_before(windows, q2[rows] - 1, bytes_len[rows])
    ts, ts_ok = _combined_ts_runs(windows[np.maximum(ts0[rows], 0), :26])

    def field(begin: np.ndarray, end: np.ndarray, func: Callable) -> pd.Categorical:
        return _map_fields(data, begin[rows], end[rows], func)

    ip = field(starts, sp0, lambda v: v.decode() if _IP_RE.match(v) else None)
    method = field(q0 + 1, spa, lambda v: v.decode() if _METHOD_RE.match(v) else None)
    good = ts_ok & bytes_ok & ~pd.isna(ip) & ~pd.isna(method)
    ok[rows[~good]] = False
    rows, ts, nbytes, ip, method = rows[good], ts[good], nbytes[good], ip[good], method[good]
    status = windows[q1[rows] + 2, :3].astype(np.int64) - ord("0")
    candidates = _Candidates(
        line_no=rows.astype(np.int64), texts=_LineTexts(data, starts[rows], ends[rows]), ts=ts, ip=ip,
        method=method, target=field(spa + 1, target_end, _decode), status=status @ [100, 10, 1],
        nbytes=nbytes, referer=field(q2 + 1, q3, _unescape_or_none), user_agent=field(q4 + 1, q5, _unescape_or_none))
    slow = np.flatnonzero(~ok)
    return candidates, slow, b"\n".join([data[a:b] for a, b in zip(starts[slow].tolist(), ends[slow].tolist())])


def _unescaped_quotes(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of quotes that end or start a field (not preceded by an odd run of backslashes), of
    backslashes, and of quotes behind runs too long to judge here."""
    quotes = np.flatnonzero(buf == ord('"'))
    backslashes = np.flatnonzero(buf == ord("\\"))
    if not len(backslashes):
        return quotes, backslashes, backslashes
    behind = quotes[buf.take(quotes - 1, mode="clip") == ord("\\")]
    run = np.zeros(len(behind), dtype=np.int64)
    going = np.ones(len(behind), dtype=bool)
    for j in range(1, 9):
        going &= (behind - j >= 0) & (buf.take(behind - j, mode="clip") == ord("\\"))
        run += going
    escaped = behind[run % 2 == 1]
    return np.setdiff1d(quotes, escaped, assume_unique=True), backslashes, behind[going]


class _LineTexts:
    """Texts of a chunk's lines by (start, end) offsets, cut only when an error needs an excerpt."""

    def __init__(self, data: bytes, starts: np.ndarray, ends: np.ndarray):
        self._data, self._starts, self._ends = data, starts, ends

    def __getitem__(self, i: int) -> bytes:
        return self._data[int(self._starts[i]):int(self._ends[i])]


def _no_candidates() -> _Candidates:
    empty = _coded(np.array([], dtype=np.int64), [])
    return _Candidates(line_no=np.array([], dtype=np.int64), texts=[], ts=np.array([], dtype="datetime64[us]"),
                       ip=empty, method=empty, target=empty, status=np.array([], dtype=np.int64),
                       nbytes=np.array([], dtype=np.int64), referer=empty, user_agent=empty)


def _combined_ts_to_iso(value: bytes) -> str | None:
    # 10/Oct/2000:13:55:36 -0700 -> 2000-10-10T13:55:36-07:00, the month by its English name whatever the locale.
    month = _MONTHS.get(value[3:6].lower()) if _COMBINED_TS.match(value) else None
    if month is None:
        return None
    v = value.decode("ascii")
    return f"{v[7:11]}-{month:02d}-{v[0:2]}T{v[12:20]}{v[21:24]}:{v[24:26]}"
