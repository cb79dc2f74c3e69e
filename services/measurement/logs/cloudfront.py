"""The CloudFront standard-log format: tab-separated fields named by the file's #Fields line."""
from __future__ import annotations

from urllib.parse import unquote

import numpy as np

from services.errors import ValidationError
from services.measurement.logs.rows import LogLineError, ParsedChunk, _assemble, _Candidates
from services.measurement.logs.values import (
    _byte_counts,
    _decode,
    _excerpt,
    _map_coded,
    _none_if_blank,
    _parse_iso_utc,
    _status_codes,
    _unquote_or_none,
)

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
        _map_coded(np.where((start == b"-") | (end == b"-"), b"", b"bytes=" + start + b"-" + end), _none_if_blank)
    candidates = _Candidates(
        line_no=np.asarray(line_nos, dtype=np.int64), texts=texts,
        ts=_parse_iso_utc(col("date") + b"T" + col("time") + b"Z", _decode),
        ip=_map_coded(col("c-ip"), _decode), method=_map_coded(col("cs-method"), _decode),
        # CloudFront escapes the already-encoded URI once more (%20 is logged as %2520), and agents once.
        target=_map_coded(target, lambda v: unquote(_decode(v))),
        status=_status_codes(col("sc-status")),
        nbytes=_byte_counts(col("sc-bytes", b"-")),
        referer=_map_coded(col("cs(Referer)", b"-"), _unquote_or_none),
        user_agent=_map_coded(col("cs(User-Agent)", b"-"), _unquote_or_none), range=rng)
    return _assemble(candidates, errors, host, check_shapes=True)
