"""The CSV log format: a header naming at least CSV_REQUIRED, then one request per record."""
from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO

import numpy as np

from services.errors import ValidationError
from services.measurement.logs.reading import _text_lines
from services.measurement.logs.rows import LogLineError, ParsedChunk, _assemble, _Candidates
from services.measurement.logs.values import (
    EXCERPT_CHARS,
    _byte_counts,
    _map_coded,
    _none_if_blank,
    _parse_iso_utc,
    _status_codes,
)

CSV_REQUIRED = ("timestamp", "ip", "user_agent", "url", "status")
CSV_OPTIONAL = ("referer", "method", "bytes", "range")


def _iter_csv(stream: IO, host: str | None, sizes: Iterator[int]) -> Iterator[ParsedChunk]:
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
        chunk_lines = next(sizes)
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
        ts=_parse_iso_utc(col("timestamp"), None), ip=_map_coded(col("ip"), str),
        method=_map_coded(col("method", "GET"), str),  # download-only exports often leave the method out
        target=_map_coded(col("url"), str), status=_status_codes(col("status")), nbytes=_byte_counts(col("bytes", "-")),
        referer=_map_coded(col("referer"), _none_if_blank), user_agent=_map_coded(col("user_agent"), _none_if_blank),
        range=_map_coded(col("range"), _none_if_blank))
