"""Opening a log (path or stream, gzip recognised by content) and reading it in runs of whole lines."""
from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import itertools
import os
from collections.abc import Iterator
from typing import IO

import numpy as np


def file_fingerprint(path: str | os.PathLike) -> str:
    """sha256 of the log's content, decompressed when gzipped, so a re-upload is recognised either way."""
    return fingerprint_and_lines(path)[0]


def count_lines(path: str | os.PathLike) -> int:
    """Physical lines in the (decompressed) log, counting a last line that lacks its newline."""
    return fingerprint_and_lines(path)[1]


def fingerprint_and_lines(path: str | os.PathLike) -> tuple[str, int]:
    """file_fingerprint and count_lines in one read of the log (an import needs both before it starts)."""
    digest, total, last = hashlib.sha256(), 0, b"\n"
    with _open_log(path) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
            total += block.count(b"\n")
            last = block[-1:]
    return digest.hexdigest(), total + (last != b"\n")


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


def chunk_sizes(chunk_lines: int, ramp: bool = False) -> Iterator[int]:
    """The lines in each successive chunk: `chunk_lines` each, or with `ramp` an eighth, a quarter and a half of it
    first, so that whoever overlaps work on successive chunks (the log import's writer) starts sooner."""
    if ramp:
        for divisor in (8, 4, 2):
            if chunk_lines // divisor:
                yield chunk_lines // divisor
    yield from itertools.repeat(chunk_lines)


def _line_blocks(stream: IO, sizes: Iterator[int], block_size: int = 1 << 22) -> Iterator[tuple[bytes, int]]:
    """Consecutive runs of whole lines, as many as `sizes` says each time (the last run may be shorter), and their
    line counts, cut from large reads so that no object is made per line."""
    if isinstance(stream, io.TextIOBase):
        while lines := list(itertools.islice(stream, next(sizes))):
            yield "".join(lines).encode("utf-8", "replace"), len(lines)
        return
    chunk_lines = next(sizes)
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
            chunk_lines = next(sizes)
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
