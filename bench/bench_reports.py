"""Benchmark: the cost of drawing and checking a scheduled report's charts, the slow part of sending one.

For `--reports` reports of two charts each (downloads per day over 31 days, top apps), as services/notify/reports/ draws
them, it times:
- drawing: kaleido with the Debian Chromium, one browser session per report (as each send job does);
- checking: decoding each PNG with the project's decoder and checking its size and that something is drawn;
- building the email (HTML, text, inline images, CSV) from the drawn images.
It prints each figure per report (median and max) and, as a same-run baseline for a host whose CPU speed drifts,
the time to zlib-compress one chart's worth of raw pixels 20 times, with each figure's ratio to it; and a digest of
the image sizes drawn (they must all be 640x300).

Run from the project root:  .venv/bin/python bench/bench_reports.py [--reports 5] [--browser /usr/bin/chromium]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import zlib
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.notify.reports.charts import bar_chart, kaleido_renderer, render_charts  # noqa: E402
from services.notify.reports.content import Kpi, ReportContent, Table  # noqa: E402
from services.notify.reports.email_render import build_message  # noqa: E402
from services.notify.reports.png import check_chart_png  # noqa: E402


def baseline() -> float:
    pixels = bytes((i * 7919) % 251 for i in range(640 * 300 * 4))
    start = time.perf_counter()
    for _ in range(20):
        zlib.compress(pixels, 6)
    return time.perf_counter() - start


def report(n: int) -> ReportContent:
    first = date(2026, 10, 1)
    days = [first + timedelta(days=d) for d in range(31)]
    downloads = [1000 + (d * 37 + n * 11) % 400 for d in range(31)]
    charts = [bar_chart("downloads-per-day", "Downloads per day", [f"{d:%d %b}" for d in days], downloads),
              bar_chart("top-apps", "Top apps by downloads", ["Overcast", "Apple Podcasts", "Spotify", "Pocket Casts"],
                        [900 + n, 700, 400, 120], horizontal=True)]
    return ReportContent("Monthly report: Bench Network", first, days[-1], date(2026, 9, 1), date(2026, 9, 30),
                         [Kpi("Downloads", sum(downloads), 30000)], [Table("Top apps", ["App", "Downloads"],
                                                                           [["Overcast", 900]])],
                         charts, [], ["day", "downloads"], [[d.isoformat(), v] for d, v in zip(days, downloads)], "/")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=5)
    parser.add_argument("--browser", default="/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
    args = parser.parse_args()
    base = min(baseline() for _ in range(3))
    draw, check, build, sizes = [], [], [], set()
    for n in range(args.reports):
        content = report(n)
        start = time.perf_counter()
        images = kaleido_renderer(content.charts, args.browser)
        draw.append(time.perf_counter() - start)
        start = time.perf_counter()
        checked = render_charts(content.charts, renderer=lambda charts, _path, images=images: images)
        check.append(time.perf_counter() - start)
        for chart in content.charts:
            image = check_chart_png(checked[chart.cid], chart.width, chart.height)
            sizes.add((image.width, image.height))
        start = time.perf_counter()
        build_message(content, checked, "Bench <bench@example.com>", "to@example.com", "http://127.0.0.1:8050",
                      f"<bench-{n}@example.com>").as_bytes()
        build.append(time.perf_counter() - start)
    print(f"baseline (zlib, 20 chart-sized images): {base * 1000:.1f} ms")
    for name, values in (("draw 2 charts (kaleido, one browser)", draw), ("check 2 PNGs", check),
                         ("build the email", build)):
        med = statistics.median(values)
        print(f"{name}: median {med * 1000:.1f} ms, max {max(values) * 1000:.1f} ms per report "
              f"({med / base:.2f}x baseline)")
    print(f"reports: {args.reports}; image sizes drawn: {sorted(sizes)}")
    return 0 if sizes == {(640, 300)} else 1


if __name__ == "__main__":
    sys.exit(main())
