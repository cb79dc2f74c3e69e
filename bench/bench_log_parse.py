"""Benchmark: parse a generated 1,000,000-line combined access log, against a bare line-split loop as baseline.

Run from the project root: python bench/bench_log_parse.py [--lines N] [--chunk-lines N] [--gzip]
Machine speed drifts, so the ratio to the baseline measured in the same run is the figure to compare."""
from __future__ import annotations

import argparse
import gzip
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.measurement.logs import iter_log_chunks

APPS = [
    "AppleCoreMedia/1.0.0.{a}A{b} (iPhone; U; CPU OS 17_{c} like Mac OS X; en_us)",
    "Podcasts/{c}.{b}.{a} CFNetwork/1490.0.4 Darwin/23.2.0",
    "Spotify/8.{b}.{a} iOS/17.{c} (iPhone{b},1)",
    "Spotify/8.{b}.{a} Android/3{c} (SM-G99{a})",
    "Overcast/3.0 (+http://overcast.fm/; iOS podcast app) build {a}{b}",
    "PocketCasts/1.0 (Pocket Casts - Android v7.{b}.{a}) ExoPlayerLib/2.{c}",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/12{c}.0.{a}.{b} Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_{c}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{b} Safari/605.1.15",
    "Castro {c}.{b} ({a})",
    "Mozilla/5.0 (compatible; Googlebot/2.{c}; +http://www.google.com/bot.html) v{a}{b}",
    'Lavf/58.{a}.{b} \\"quoted\\" client {c}',
    "Player FM/{a}.{b} (Ñandú café; Android {c})",
]
REFERERS = ["-", "-", "-", "https://podcasts.apple.com/", "https://open.spotify.com/", "https://example.fm/show"]
STATUSES = ["200"] * 5 + ["206"] * 12 + ["304", "404", "416"]
METHODS = ["GET"] * 30 + ["HEAD"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def generate(path: Path, n_lines: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    agents = sorted({t.format(a=rnd.randint(0, 9), b=rnd.randint(0, 99), c=rnd.randint(0, 9))
                     for t in APPS for _ in range(40)})[:300]
    ips = [f"{rnd.randint(1, 223)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
           for _ in range(45_000)]
    ips += [f"2a02:{rnd.randint(0, 0xffff):x}:{rnd.randint(0, 0xffff):x}::{rnd.randint(1, 0xffff):x}"
            for _ in range(5_000)]
    urls = [f"/shows/show-{s}/episodes/ep-{e}.mp3" + ("?utm_source=rss" if e % 3 == 0 else "")
            for s in range(40) for e in range(50)]
    start = 1_700_000_000
    with path.open("w", encoding="utf-8") as f:
        for i in range(n_lines):
            t = time.gmtime(start + i * 86_400 // n_lines)
            ts = f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
            status = rnd.choice(STATUSES)
            nbytes = "-" if status == "304" else str(rnd.randint(2, 60_000_000))
            f.write(f'{rnd.choice(ips)} - - [{ts}] "{rnd.choice(METHODS)} {rnd.choice(urls)} HTTP/1.1" {status} '
                    f'{nbytes} "{rnd.choice(REFERERS)}" "{rnd.choice(agents)}"\n')


def time_baseline(path: Path) -> float:
    started = time.perf_counter()
    with path.open(encoding="utf-8") as f:
        for line in f:
            line.split()
    return time.perf_counter() - started


def time_parse(path: Path, chunk_lines: int) -> tuple[float, int, int]:
    started = time.perf_counter()
    rows = errors = 0
    for chunk in iter_log_chunks(path, "combined", host="cdn.example.fm", chunk_lines=chunk_lines):
        rows += len(chunk.rows)
        errors += len(chunk.errors)
    return time.perf_counter() - started, rows, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--chunk-lines", type=int, default=200_000)
    parser.add_argument("--gzip", action="store_true", help="also time the same log gzipped")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "access.log"
        started = time.perf_counter()
        generate(path, args.lines)
        print(f"generated {args.lines:,} lines ({path.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - started:.1f} s")
        baseline = time_baseline(path)
        elapsed, rows, errors = time_parse(path, args.chunk_lines)
        print(f"baseline  for line in f: line.split()  {baseline:6.2f} s  {args.lines / baseline:12,.0f} lines/s")
        print(f"parse     iter_log_chunks(combined)    {elapsed:6.2f} s  {args.lines / elapsed:12,.0f} lines/s"
              f"  ({rows:,} rows, {errors:,} errors)")
        print(f"ratio     parse time / baseline time   {elapsed / baseline:6.2f}")
        if args.gzip:
            gz = path.with_suffix(".log.gz")
            with path.open("rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
                dst.write(src.read())
            gz_elapsed, _, _ = time_parse(gz, args.chunk_lines)
            print(f"parse gz  iter_log_chunks(combined)    {gz_elapsed:6.2f} s  {args.lines / gz_elapsed:12,.0f} lines/s")


if __name__ == "__main__":
    main()
