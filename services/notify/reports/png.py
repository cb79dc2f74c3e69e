"""Checking a rendered chart before it is sent: a minimal PNG decoder (8-bit, non-interlaced; what Chromium writes)
and the checks that the image decodes, has the expected size and is not blank."""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel (grey, RGB, grey+alpha, RGBA)
MIN_INK_SHARE = 0.002  # at least this share of pixels must differ from the background


class InvalidImage(ValueError):
    """The bytes are not a usable chart image; the message says why."""


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    pixels: np.ndarray  # height x width x channels, uint8


def _chunks(data: bytes):
    if not data.startswith(SIGNATURE):
        raise InvalidImage("not a PNG (bad signature)")
    pos = len(SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = data[pos + 8 + length:pos + 12 + length]
        if len(body) != length or len(crc) != 4:
            raise InvalidImage("truncated PNG")
        if struct.unpack(">I", crc)[0] != zlib.crc32(kind + body) & 0xFFFFFFFF:
            raise InvalidImage(f"corrupt PNG chunk {kind.decode(errors='replace')}")
        yield kind, body
        if kind == b"IEND":
            return
        pos += 12 + length
    raise InvalidImage("truncated PNG (no IEND)")


def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> np.ndarray:
    stride = width * bpp
    if len(raw) < height * (stride + 1):
        raise InvalidImage("PNG image data is shorter than its size")
    rows = np.frombuffer(raw, dtype=np.uint8, count=height * (stride + 1)).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.int32)
    previous = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        if kind == 0:
            cur = line
        elif kind == 2:
            cur = (line + previous) & 0xFF
        elif kind in (1, 3, 4):  # each pixel depends on the one to its left: walk pixel by pixel, channels at once
            cur = line.copy()
            for x in range(0, stride, bpp):
                left = cur[x - bpp:x] if x else np.zeros(bpp, dtype=np.int32)
                up = previous[x:x + bpp]
                if kind == 1:
                    pred = left
                elif kind == 3:
                    pred = (left + up) >> 1
                else:
                    pred = _paeth(left, up, previous[x - bpp:x] if x else np.zeros(bpp, dtype=np.int32))
                cur[x:x + bpp] = (cur[x:x + bpp] + pred) & 0xFF
        else:
            raise InvalidImage(f"unknown PNG filter type {kind} on row {y}")
        out[y] = cur
        previous = cur
    return out.astype(np.uint8)


def decode(data: bytes) -> Image:
    header, idat = None, []
    for kind, body in _chunks(data):
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
    if header is None or not idat:
        raise InvalidImage("PNG without a header or image data")
    width, height, depth, colour, _compression, _filter, interlace = header
    if depth != 8 or colour not in CHANNELS or interlace != 0:
        raise InvalidImage(f"unsupported PNG (bit depth {depth}, colour type {colour}, interlace {interlace})")
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as exc:
        raise InvalidImage(f"PNG image data does not decompress: {exc}") from None
    bpp = CHANNELS[colour]
    return Image(width, height, _unfilter(raw, width, height, bpp).reshape(height, width, bpp))


def check_chart_png(data: bytes, width: int, height: int) -> Image:
    """Raise InvalidImage unless `data` decodes to a `width` x `height` image with something drawn on it."""
    if not data:
        raise InvalidImage("empty image")
    image = decode(data)
    if (image.width, image.height) != (width, height):
        raise InvalidImage(f"image is {image.width}x{image.height}, expected {width}x{height}")
    pixels = image.pixels.reshape(-1, image.pixels.shape[2])
    if pixels.shape[1] in (2, 4) and not pixels[:, -1].any():
        raise InvalidImage("image is fully transparent")
    ink = np.any(pixels != pixels[0], axis=1).mean()
    if ink < MIN_INK_SHARE:
        raise InvalidImage(f"image is blank ({ink:.2%} of pixels differ from the background)")
    return image
