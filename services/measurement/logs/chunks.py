"""iter_log_chunks: a log in any of FORMATS as ParsedChunks of a fixed number of physical lines."""
from __future__ import annotations

import codecs
import os
from collections.abc import Iterator
from typing import IO

from services.errors import ValidationError
from services.measurement.logs.cloudfront import CLOUDFRONT_DEFAULT_FIELDS, _parse_cloudfront
from services.measurement.logs.combined import _parse_combined
from services.measurement.logs.csv_log import _iter_csv
from services.measurement.logs.reading import _line_blocks, _open_log, chunk_sizes
from services.measurement.logs.rows import ParsedChunk
from services.measurement.logs.values import _clean_host

FORMATS = ("combined", "cloudfront", "csv")


def iter_log_chunks(path_or_fileobj: str | os.PathLike | IO, fmt: str, host: str | None = None,
                    chunk_lines: int = 100_000, ramp: bool = False) -> Iterator[ParsedChunk]:
    """Parse a log in chunks of `chunk_lines` physical lines; gzip is recognised by its content. (An import writes
    one chunk while it parses the next: smaller chunks start and finish that overlap sooner, and take less memory.)
    `ramp` makes the first chunks smaller still (see chunk_sizes): the import's writer gets its first rows sooner.

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
            yield from _iter_csv(stream, host, chunk_sizes(chunk_lines, ramp))
            return
        cloudfront_fields = list(CLOUDFRONT_DEFAULT_FIELDS)
        line_no = 1
        for data, n_lines in _line_blocks(stream, chunk_sizes(chunk_lines, ramp)):
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
