"""Report charts: the checks every image passes before it may be sent (decodes, expected size, something drawn), a
renderer's failure named for the report's history, the browser setting; and one real drawing by kaleido."""
from __future__ import annotations

import os
import struct
import zlib

import pytest

from services.errors import ConfigError
from services.notify.reports.charts import ChartRenderError, bar_chart, kaleido_renderer, render_charts
from services.notify.reports.png import InvalidImage, check_chart_png, decode
from services.settings import load_settings
from tests.unit.reports.pngs import blank_renderer, crashing_renderer, good_renderer, make_png

CHARTS = [bar_chart("per-day", "Downloads per day", ["01 Jun", "02 Jun", "03 Jun"], [120, 80, 150]),
          bar_chart("apps", "Top apps", ["Overcast", "Apple Podcasts"], [300, 50], horizontal=True)]


def test_a_good_image_passes_and_each_kind_of_bad_one_is_named():
    assert check_chart_png(make_png(64, 32), 64, 32).pixels.shape == (32, 64, 4)
    problems = {
        "empty image": b"",
        "bad signature": b"GIF89a" + b"\x00" * 40,
        "expected 64x32": make_png(64, 30),
        "blank": make_png(64, 32, blank=True),
        "truncated": make_png(64, 32)[:-20],
    }
    for message, data in problems.items():
        with pytest.raises(InvalidImage, match=message):
            check_chart_png(data, 64, 32)
    corrupt = bytearray(make_png(64, 32))
    corrupt[40] ^= 0xFF  # inside the image data: its checksum no longer matches
    with pytest.raises(InvalidImage, match="corrupt"):
        check_chart_png(bytes(corrupt), 64, 32)


def test_every_png_filter_type_decodes_to_the_same_pixels():
    width, height, bpp = 5, 4, 3
    pixels = bytes((x * 40 + y * 7 + c * 3) % 256 for y in range(height) for x in range(width) for c in range(bpp))
    stride = width * bpp
    rows = [pixels[y * stride:(y + 1) * stride] for y in range(height)]

    def encode(kind: int) -> bytes:
        out, prev = b"", bytes(stride)
        for row in rows:
            filtered = bytearray()
            for i, value in enumerate(row):
                a = row[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                paeth = a if pa <= pb and pa <= pc else b if pb <= pc else c
                pred = {0: 0, 1: a, 2: b, 3: (a + b) // 2, 4: paeth}[kind]
                filtered.append((value - pred) % 256)
            out += bytes([kind]) + bytes(filtered)
            prev = row
        return out

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    for kind in range(5):
        data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(encode(kind))) + chunk(b"IEND", b""))
        assert decode(data).pixels.tobytes() == pixels, f"filter {kind}"


def test_a_failing_or_blank_render_raises_naming_the_chart():
    assert set(render_charts(CHARTS, renderer=good_renderer)) == {"per-day", "apps"}
    with pytest.raises(ChartRenderError, match="Top apps.*blank"):
        render_charts(CHARTS, renderer=blank_renderer)
    with pytest.raises(ChartRenderError, match="RuntimeError: Chromium exited"):
        render_charts(CHARTS, renderer=crashing_renderer)
    with pytest.raises(ChartRenderError, match="1 images drawn for 2 charts"):
        render_charts(CHARTS, renderer=lambda charts, _path: [make_png(640, 300)])
    assert render_charts([], renderer=crashing_renderer) == {}  # an empty period draws nothing


def test_the_browser_setting_must_name_an_executable(tmp_path):
    base = {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s" * 32}
    assert load_settings(base).chart_browser_path is None
    with pytest.raises(ConfigError, match="CHART_BROWSER_PATH"):
        load_settings({**base, "CHART_BROWSER_PATH": str(tmp_path / "no-such-browser")})


@pytest.mark.timeout(180)
def test_kaleido_draws_each_chart_at_its_size_with_something_on_it():
    browser = "/usr/bin/chromium" if os.path.isfile("/usr/bin/chromium") else None  # else kaleido's own lookup
    images = render_charts(CHARTS, browser, renderer=kaleido_renderer)
    for chart in CHARTS:
        image = check_chart_png(images[chart.cid], chart.width, chart.height)
        assert (image.width, image.height) == (640, 300)
