"""Access-log import: parse host/CDN logs (combined, CloudFront, CSV) into chunks of raw requests.

Speed matters (a million-line log must import in seconds). A chunk is one bytes buffer; combined lines are
located with numpy over the whole buffer, and the few lines that reader cannot vouch for go through one
anchored regex, which is the reference for what a good line is. Every per-value conversion (decoding,
unescaping, URLs, validation) runs once per distinct value: agents, URLs and IPs repeat heavily in logs."""
from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import itertools
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO
from urllib.parse import unquote

import numpy as np
import pandas as pd

from services.errors import ValidationError

logger = logging.getLogger(__name__)

FORMATS = ("combined", "cloudfront", "csv")
COLUMNS = ["ts", "ip", "user_agent", "referer", "method", "url", "status", "bytes", "range", "line_no",
           "url_absolute"]
EXCERPT_CHARS = 200

# A quoted field's body with backslash escapes (Apache writes \" and \\, nginx \x22); never crosses a line.
_QUOTED = rb'[^"\\\n]*(?:\\.[^"\\\n]*)*'
_IP = rb"[0-9A-Fa-f:.]+"
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
_IP_RE = re.compile(_IP + rb"\Z")
_METHOD_RE = re.compile(rb"[A-Za-z]+\Z")
_HTTP_VERSION_RE = re.compile(_HTTP_VERSION + rb"\Z")
_REQUEST_RE = re.compile(rb'[A-Za-z]+ [^ "]+(?: ' + _HTTP_VERSION + rb')?\Z')
_STATUS_RE = re.compile(rb"[0-9]{3}\Z")
_BYTES_RE = re.compile(rb"[0-9]{1,18}\Z")
_ESCAPE = re.compile(rb'\\x([0-9A-Fa-f]{2})|\\(["\\])')
_MONTH_NAMES = (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, start=1)}

# CloudFront's documented standard-log layout, used only when a file has no #Fields line.
CLOUDFRONT_DEFAULT_FIELDS = (
    "date", "time", "x-edge-location", "sc-bytes", "c-ip", "cs-method", "cs(Host)", "cs-uri-stem", "sc-status",
    "cs(Referer)", "cs(User-Agent)", "cs-uri-query", "cs(Cookie)", "x-edge-result-type", "x-edge-request-id",
    "x-host-header", "cs-protocol", "cs-bytes", "time-taken", "x-forwarded-for", "ssl-protocol", "ssl-cipher",
    "x-edge-response-result-type", "cs-protocol-version", "fle-status", "fle-encrypted-fields", "c-port",
    "time-to-first-byte", "x-edge-detailed-result-type", "sc-content-type", "sc-content-len", "sc-range-start",
    "sc-range-end",
)
CLOUDFRONT_REQUIRED = ("date", "time", "c-ip", "cs-method", "cs-uri-stem", "sc-status")
CSV_REQUIRED = ("timestamp", "ip", "user_agent", "url", "status")
CSV_OPTIONAL = ("referer", "method", "bytes", "range")


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


def iter_log_chunks(path_or_fileobj: str | os.PathLike | IO, fmt: str, host: str | None = None,
                    chunk_lines: int = 200_000) -> Iterator[ParsedChunk]:
    """Parse a log in chunks of `chunk_lines` physical lines; gzip is recognised by its content.

    Rows carry COLUMNS. `url` is https://<host><path>, the host taken from the line (CloudFront's
    x-host-header, else cs(Host); an absolute request target) or else from `host`; with neither it stays
    path-only and `url_absolute` is False. A missing user agent, referer or range ("-" or empty) is NA."""
    if fmt not in FORMATS:
        raise ValidationError(f"unknown log format {fmt!r}", {"fmt": f"one of {', '.join(FORMATS)}"})
    if chunk_lines < 1:
        raise ValidationError("chunk_lines must be at least 1", {"chunk_lines": "must be >= 1"})
    host = _clean_host(host)
    with _open_log(path_or_fileobj) as stream:
        if fmt == "csv":
            yield from _iter_csv(stream, host, chunk_lines)
            return
        cloudfront_fields = list(CLOUDFRONT_DEFAULT_FIELDS)
        line_no = 1
        for data, n_lines in _line_blocks(stream, chunk_lines):
            if line_no == 1 and data.startswith(codecs.BOM_UTF8):
                data = data[len(codecs.BOM_UTF8):]
            if b"\r" in data:
                data = data.replace(b"\r\n", b"\n")
            if data.endswith(b"\n"):
                data = data[:-1]
            if fmt == "combined":
                chunk = _parse_combined(data, line_no, host)
            else:
                chunk = _parse_cloudfront(data.split(b"\n"), line_no, host, cloudfront_fields)
            chunk.first_line, chunk.last_line = line_no, line_no + n_lines - 1
            line_no += n_lines
            yield chunk


def file_fingerprint(path: str | os.PathLike) -> str:
    """sha256 of the log's content, decompressed when gzipped, so a re-upload is recognised either way."""
    digest = hashlib.sha256()
    with _open_log(path) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def count_lines(path: str | os.PathLike) -> int:
    """Physical lines in the (decompressed) log, counting a last line that lacks its newline."""
    total, last = 0, b"\n"
    with _open_log(path) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            total += block.count(b"\n")
            last = block[-1:]
    return total + (last != b"\n")


# -- reading -----------------------------------------------------------------------------------------------

class _open_log:
    """Context manager: the log as a binary stream (gunzipped when it starts with the gzip magic), or the
    caller's text stream as is. Closes only what it opened."""

    def __init__(self, source: str | os.PathLike | IO):
        self._source = source
        self._opened: list[IO] = []

    def __enter__(self) -> IO:
        f = self._source
        if isinstance(f, (str, os.PathLike)):
            f = open(f, "rb")
            self._opened.append(f)
        if isinstance(f, io.TextIOBase):
            return f
        if not hasattr(f, "peek"):
            f = io.BufferedReader(_RawReader(f))
        if f.peek(2)[:2] == b"\x1f\x8b":
            f = gzip.GzipFile(fileobj=f, mode="rb")
            self._opened.append(f)
        return f

    def __exit__(self, *exc) -> None:
        for f in reversed(self._opened):
            f.close()


class _RawReader(io.RawIOBase):
    """Adapts any object with read(n) -> bytes (an upload stream, say) so BufferedReader can peek at it."""

    def __init__(self, f):
        self._f = f

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._f.read(len(buffer)) or b""
        buffer[:len(data)] = data
        return len(data)


def _line_blocks(stream: IO, chunk_lines: int, block_size: int = 1 << 22) -> Iterator[tuple[bytes, int]]:
    """Consecutive runs of `chunk_lines` whole lines (the last run may be shorter) and their line counts,
    cut from large reads so that no object is made per line."""
    if isinstance(stream, io.TextIOBase):
        while lines := list(itertools.islice(stream, chunk_lines)):
            yield "".join(lines).encode("utf-8", "replace"), len(lines)
        return
    pieces: list[bytes] = []
    carried = 0  # whole lines in pieces
    while block := stream.read(block_size):
        newlines = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == ord("\n"))
        start = used = 0
        while carried + len(newlines) - used >= chunk_lines:
            last = used + chunk_lines - carried - 1
            end = int(newlines[last]) + 1
            pieces.append(block[start:end])
            yield b"".join(pieces), chunk_lines
            pieces, carried, start, used = [], 0, end, last + 1
        pieces.append(block[start:])
        carried += len(newlines) - used
    rest = b"".join(pieces)
    if rest:
        yield rest, carried + (not rest.endswith(b"\n"))


def _text_lines(stream: IO) -> Iterator[str]:
    lines = iter(stream) if isinstance(stream, io.TextIOBase) else codecs.iterdecode(stream, "utf-8", "replace")
    first = next(lines, None)
    if first is not None:
        yield first.lstrip("\ufeff")
        yield from lines


# -- candidate rows ----------------------------------------------------------------------------------------

@dataclass
class _Candidates:
    """Typed columns of rows that parsed; _assemble still rejects rows with a bad value.

    ts is datetime64[us] in UTC (NaT: bad); status -1: bad; nbytes -1: absent, -2: bad."""

    line_no: np.ndarray
    texts: Sequence
    ts: np.ndarray
    ip: np.ndarray
    method: np.ndarray
    target: np.ndarray
    status: np.ndarray
    nbytes: np.ndarray
    referer: np.ndarray
    user_agent: np.ndarray
    range: np.ndarray | None = None

    @staticmethod
    def concat(a: _Candidates, b: _Candidates) -> _Candidates:
        order = np.argsort(np.concatenate([a.line_no, b.line_no]), kind="stable")
        texts = _Texts([a.texts, b.texts], len(a.line_no))
        joined = {name: np.concatenate([getattr(a, name), getattr(b, name)])[order]
                  for name in ("line_no", "ts", "ip", "method", "target", "status", "nbytes", "referer", "user_agent")}
        return _Candidates(texts=_Reordered(texts, order), **joined)


def _assemble(c: _Candidates, errors: list[LogLineError], host: str | None,
              check_shapes: bool = False) -> ParsedChunk:
    """Move candidate rows with a bad value to `errors` and type the rest as COLUMNS.

    `check_shapes` checks the ip and method, which the combined reader has already checked."""
    reason = np.full(len(c.line_no), None, dtype=object)

    def flag(bad: np.ndarray, why: str) -> None:
        reason[bad & pd.isna(reason)] = why

    if check_shapes:
        flag(~_map_unique(c.ip, lambda v: bool(_IP_RE.match(v.encode())), dtype=bool), "bad client ip")
    flag(np.isnat(c.ts), "bad timestamp")
    if check_shapes:
        flag(~_map_unique(c.method, lambda v: bool(_METHOD_RE.match(v.encode())), dtype=bool), "bad method")
    flag(c.status < 0, "bad status")
    flag(c.nbytes == -2, "bad bytes")
    keep = pd.isna(reason)
    if not keep.all():
        errors = errors + [LogLineError(int(c.line_no[i]), reason[i], _excerpt(c.texts[i]))
                           for i in np.flatnonzero(~keep)]
    errors.sort(key=lambda e: e.line_no)
    url = _map_unique(c.target[keep], lambda v: _absolute_url(v, host))
    nbytes = c.nbytes[keep]
    rows = pd.DataFrame({
        "ts": pd.DatetimeIndex(c.ts[keep]).tz_localize("UTC"),
        "ip": pd.array(c.ip[keep], dtype="str"),
        "user_agent": pd.array(c.user_agent[keep], dtype="str"),
        "referer": pd.array(c.referer[keep], dtype="str"),
        "method": pd.array(c.method[keep], dtype="str"),
        "url": pd.array(url, dtype="str"),
        "status": c.status[keep],
        "bytes": pd.arrays.IntegerArray(np.maximum(nbytes, 0), nbytes < 0),
        "range": pd.array(np.full(len(url), None, dtype=object) if c.range is None else c.range[keep], dtype="str"),
        "line_no": c.line_no[keep].astype(np.int64),
        "url_absolute": _map_unique(url, lambda v: v.startswith(("https://", "http://")), dtype=bool),
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


# -- combined ----------------------------------------------------------------------------------------------

def _parse_combined(data: bytes, first_line_no: int, host: str | None) -> ParsedChunk:
    """The vectorised reader takes the lines it can vouch for; the regex reader takes the rest and says why
    a bad line is bad. Both accept exactly the same lines with the same fields."""
    candidates, slow = _combined_vectorised(data)
    candidates.line_no += first_line_no
    if not len(slow):
        return _assemble(candidates, [], host)
    lines = data.split(b"\n")
    slow_candidates, errors = _combined_regex(b"\n".join(lines[i] for i in slow), first_line_no + slow)
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
        ts=_parse_iso_utc(cols[2], _combined_ts_to_iso), ip=_map_unique(cols[1], bytes.decode),
        method=_map_unique(cols[3], bytes.decode), target=_map_unique(cols[4], _decode),
        status=_status_codes(cols[5]), nbytes=_byte_counts(cols[6]),
        referer=_map_unique(cols[7], _unescape_or_none), user_agent=_map_unique(cols[8], _unescape_or_none),
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


_TS_DIGITS = [0, 1, 7, 8, 9, 10, 12, 13, 15, 16, 18, 19, 22, 23, 24, 25]
_TS_PUNCTUATION = {2: b"/", 6: b"/", 11: b":", 14: b":", 17: b":", 20: b" "}
_MONTH_KEYS = np.array([(m[0] << 16) | (m[1] << 8) | m[2] for m in _MONTH_NAMES])
_MONTH_ORDER = np.argsort(_MONTH_KEYS)
_MAX_BYTES_DIGITS = 18
_WINDOW = 256  # fields up to this long are told apart by hashing their bytes in place; longer ones are cut out
_BYTE_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)  # low k bytes of a word (little-endian)
_HASH_KEYS = np.random.default_rng(20231010).integers(1, 2**63, size=_WINDOW // 8, dtype=np.uint64) | np.uint64(1)


def _combined_vectorised(data: bytes) -> tuple[_Candidates, np.ndarray]:
    """Find the fields of every well-formed line by the positions of its quotes and spaces, all lines at once.

    Takes a line only when the strict regex would take it with the same fields and its values convert
    cleanly; returns those candidates (line_no 0-based in the chunk) and the other lines' offsets."""
    buf = np.frombuffer(data, dtype=np.uint8)
    # Fixed-width views of the buffer at any offset, for gathering short fields row-wise without copying.
    windows = np.lib.stride_tricks.sliding_window_view(np.concatenate([buf, np.zeros(_WINDOW, np.uint8)]), _WINDOW)
    newlines = np.flatnonzero(buf == ord("\n"))
    starts = np.concatenate(([0], newlines + 1))
    ends = np.append(newlines, len(buf))
    n = len(starts)
    quotes, backslashes, too_many = _unescaped_quotes(buf)
    spaces = np.flatnonzero(buf == ord(" "))
    if len(quotes) < 6 or len(spaces) < 3:
        return _no_candidates(), np.arange(n)

    def at(pos: np.ndarray) -> np.ndarray:
        return buf.take(pos, mode="clip")

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

    def field(begin: np.ndarray, end: np.ndarray, func: Callable) -> np.ndarray:
        return _map_fields(data, windows, begin[rows], end[rows], func)

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
    return candidates, np.flatnonzero(~ok)


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


def _map_fields(data: bytes, windows: np.ndarray, begin: np.ndarray, end: np.ndarray, func: Callable) -> np.ndarray:
    """func applied once per distinct field data[begin:end]. Fields that fit a window are grouped by a hash
    of their bytes (checked byte for byte afterwards), so no object is made per row; longer ones are cut out."""
    length = end - begin
    out = np.empty(len(begin), dtype=object)
    fits = length <= _WINDOW
    if not fits.all():
        long = np.flatnonzero(~fits)
        out[long] = _map_unique(np.asarray([data[a:b] for a, b in zip(begin[long].tolist(), end[long].tolist())],
                                           dtype=object), func)
    short = np.flatnonzero(fits)
    if not len(short):
        return out
    width = max(8, -(-int(length[short].max()) // 8) * 8)
    words = windows[begin[short], :width].view("<u8")  # a copy (row-wise fancy indexing), read little-endian
    words &= _BYTE_MASKS[np.clip(length[short, None] - np.arange(0, width, 8), 0, 8)]  # zero what follows the field
    with np.errstate(over="ignore"):
        key = (words * _HASH_KEYS[:width // 8]).sum(axis=1, dtype=np.uint64) ^ length[short].astype(np.uint64)
    codes, _ = pd.factorize(key)
    first = np.empty(codes.max() + 1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    same = (words == words[first[codes]]).all() and (length[short] == length[short][first[codes]]).all()
    if not same:  # a hash collision: group exactly, word by word
        codes, _ = pd.factorize(length[short])
        for word in words.T:
            word_codes, uniques = pd.factorize(word)
            codes, _ = pd.factorize(codes * len(uniques) + word_codes)
        first = np.empty(codes.max() + 1, dtype=np.int64)
        first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    starts, ends = begin[short][first].tolist(), end[short][first].tolist()
    out[short] = np.asarray([func(data[a:b]) for a, b in zip(starts, ends)], dtype=object).take(codes)
    return out


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


class _LineTexts:
    """Texts of a chunk's lines by (start, end) offsets, cut only when an error needs an excerpt."""

    def __init__(self, data: bytes, starts: np.ndarray, ends: np.ndarray):
        self._data, self._starts, self._ends = data, starts, ends

    def __getitem__(self, i: int) -> bytes:
        return self._data[int(self._starts[i]):int(self._ends[i])]


def _no_candidates() -> _Candidates:
    empty = np.array([], dtype=object)
    return _Candidates(line_no=np.array([], dtype=np.int64), texts=[], ts=np.array([], dtype="datetime64[us]"),
                       ip=empty, method=empty, target=empty, status=np.array([], dtype=np.int64),
                       nbytes=np.array([], dtype=np.int64), referer=empty, user_agent=empty)


# -- CloudFront --------------------------------------------------------------------------------------------

def _parse_cloudfront(lines: list[bytes], first_line_no: int, host: str | None, fields: list[str]) -> ParsedChunk:
    errors: list[LogLineError] = []
    parts, line_nos, texts = [], [], []
    for offset, line in enumerate(lines):
        if line.startswith(b"#"):
            if line.startswith(b"#Fields:"):
                fields[:] = _decode(line[len(b"#Fields:"):]).split()
                missing = [f for f in CLOUDFRONT_REQUIRED if f not in fields]
                if missing:
                    raise ValidationError(f"CloudFront #Fields line lacks {', '.join(missing)}",
                                          {"fields": "missing " + ", ".join(missing)})
            continue
        split = line.split(b"\t")
        if len(split) != len(fields):
            if line.strip():
                errors.append(LogLineError(first_line_no + offset, f"expected {len(fields)} tab-separated fields, "
                                           f"found {len(split)}", _excerpt(line)))
            continue
        parts.append(split)
        line_nos.append(first_line_no + offset)
        texts.append(line)
    at = {name: i for i, name in enumerate(fields)}

    def col(name: str, default: bytes | None = None) -> np.ndarray | None:
        if name not in at:
            return None if default is None else np.full(len(parts), default, dtype=object)
        return np.asarray([p[at[name]] for p in parts], dtype=object)

    # x-host-header is the name the listener asked for (a custom domain); cs(Host) is the distribution's own.
    viewer_host, cf_host = col("x-host-header"), col("cs(Host)")
    hosts = viewer_host if cf_host is None else cf_host if viewer_host is None else \
        np.where(viewer_host == b"-", cf_host, viewer_host)
    stem, query = col("cs-uri-stem"), col("cs-uri-query")
    target = stem if query is None else np.where(query == b"-", stem, stem + b"?" + query)
    if hosts is not None:
        target = np.where(hosts == b"-", target, b"//" + hosts + target)
    start, end = col("sc-range-start"), col("sc-range-end")
    rng = None if start is None or end is None else \
        _map_unique(np.where((start == b"-") | (end == b"-"), b"", b"bytes=" + start + b"-" + end), _none_if_blank)
    candidates = _Candidates(
        line_no=np.asarray(line_nos, dtype=np.int64), texts=texts,
        ts=_parse_iso_utc(col("date") + b"T" + col("time") + b"Z", _decode),
        ip=_map_unique(col("c-ip"), _decode), method=_map_unique(col("cs-method"), _decode),
        # CloudFront escapes the already-encoded URI once more (%20 is logged as %2520), and agents once.
        target=_map_unique(target, lambda v: unquote(_decode(v))),
        status=_status_codes(col("sc-status")),
        nbytes=_byte_counts(col("sc-bytes", b"-")),
        referer=_map_unique(col("cs(Referer)", b"-"), _unquote_or_none),
        user_agent=_map_unique(col("cs(User-Agent)", b"-"), _unquote_or_none), range=rng)
    return _assemble(candidates, errors, host, check_shapes=True)


# -- CSV ---------------------------------------------------------------------------------------------------

def _iter_csv(stream: IO, host: str | None, chunk_lines: int) -> Iterator[ParsedChunk]:
    reader = csv.reader(_text_lines(stream))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        raise ValidationError(f"CSV log lacks column(s) {', '.join(missing)}", {"header": ", ".join(missing)})
    at = {name: header.index(name) for name in CSV_REQUIRED + CSV_OPTIONAL if name in header}
    first = reader.line_num + 1
    done = False
    while not done:
        records, line_nos, errors = [], [], []
        while reader.line_num - first + 1 < chunk_lines:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                done = True
                break
            except csv.Error as exc:
                errors.append(LogLineError(start, f"bad CSV: {exc}", ""))
                continue
            if not any(v.strip() for v in record):
                continue
            if len(record) != len(header):
                errors.append(LogLineError(start, f"expected {len(header)} CSV fields, found {len(record)}",
                                           ",".join(record)[:EXCERPT_CHARS]))
                continue
            records.append(record)
            line_nos.append(start)
        if reader.line_num < first:
            return
        chunk = _assemble(_csv_candidates(records, line_nos, at), errors, host, check_shapes=True)
        chunk.first_line, chunk.last_line = first, reader.line_num
        first = reader.line_num + 1
        yield chunk


def _csv_candidates(records: list[list[str]], line_nos: list[int], at: dict[str, int]) -> _Candidates:
    def col(name: str, default: str = "") -> np.ndarray:
        if name not in at:
            return np.full(len(records), default, dtype=object)
        return np.asarray([r[at[name]].strip() for r in records], dtype=object)

    return _Candidates(
        line_no=np.asarray(line_nos, dtype=np.int64), texts=[",".join(r) for r in records],
        ts=_parse_iso_utc(col("timestamp"), None), ip=col("ip"),
        method=col("method", "GET"),  # download-only exports often leave the method out
        target=col("url"), status=_status_codes(col("status")), nbytes=_byte_counts(col("bytes", "-")),
        referer=_map_unique(col("referer"), _none_if_blank), user_agent=_map_unique(col("user_agent"), _none_if_blank),
        range=_map_unique(col("range"), _none_if_blank))


# -- values ------------------------------------------------------------------------------------------------

def _map_unique(values: np.ndarray, func: Callable, dtype=object) -> np.ndarray:
    """func applied once per distinct value."""
    if len(values) == 0:
        return np.asarray([], dtype=dtype)
    codes, uniques = pd.factorize(values)
    return np.asarray([func(v) for v in uniques], dtype=dtype).take(codes)


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


def _combined_ts_to_iso(value: bytes) -> str | None:
    # 10/Oct/2000:13:55:36 -0700 -> 2000-10-10T13:55:36-07:00, the month by its English name whatever the locale.
    month = _MONTHS.get(value[3:6].lower()) if _COMBINED_TS.match(value) else None
    if month is None:
        return None
    v = value.decode("ascii")
    return f"{v[7:11]}-{month:02d}-{v[0:2]}T{v[12:20]}{v[21:24]}:{v[24:26]}"


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
