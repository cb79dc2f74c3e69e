"""Small PNGs for the report tests, written with zlib (no browser): a chart-like image, a blank one, a wrong size."""
from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def make_png(width: int, height: int, blank: bool = False) -> bytes:
    """An RGBA PNG: white, with a dark bar across its lower third unless `blank`."""
    rows = []
    for y in range(height):
        dark = not blank and y > height * 2 // 3
        pixel = b"\x40\x40\xa0\xff" if dark else b"\xff\xff\xff\xff"
        rows.append(b"\x00" + pixel * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"".join(rows)))
            + _chunk(b"IEND", b""))


def good_renderer(charts, _browser_path):
    return [make_png(c.width, c.height) for c in charts]


def blank_renderer(charts, _browser_path):
    return [make_png(c.width, c.height, blank=i == len(charts) - 1) for i, c in enumerate(charts)]


def crashing_renderer(_charts, _browser_path):
    raise RuntimeError("Chromium exited unexpectedly")
