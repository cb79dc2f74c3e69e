"""Benchmark: the seven attribution credit models on a synthetic path frame, and Markov order 1 on paths.csv against
ChannelAttribution (when that package is importable) in the same run.

Issue target: all seven models on ~100,000 conversion paths over 50 channels within a few seconds.

Run from the project root:
    python bench/bench_attribution_models.py [--converted 100000] [--non-converting 300000] [--channels 50]
                                             [--seed 0] [--half-life 7]

What it does, in order:
  1. builds a seeded synthetic path frame: --converted paths with conversions 1 and --non-converting paths with
     conversions 0 and nulls 1, 1-8 touches each (ages 0-30 days), channels drawn with skewed popularity (converted
     and non-converting paths favour different channels, so the Markov chain has something to find);
  2. times first touch, last touch, linear, time decay, position based, Markov order 1 and Shapley (sampled: 50
     channels) one after the other, printing seconds per model, a digest (attributed conversions, which must equal
     the converted paths, and the top channel) and the total; Markov order 2 is timed after the total, as an extra;
  3. loads tests/data/attribution/paths.csv and times Markov order 1 on it (best of 5); if `ChannelAttribution`
     imports, times its markov_model(..., order=1) on the same data (best of 5) and prints the ratio ours/theirs and
     the per-channel difference of the attributed conversions (theirs is simulated, so a few per cent apart).

Machine speed drifts, so the ratio measured in the same run is the figure to compare.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from services.sponsorship.attribution.markov import markov  # noqa: E402
from services.sponsorship.attribution.models import (  # noqa: E402
    channel_totals, first_touch, last_touch, linear, path_frame_from_strings, position_based, time_decay)
from services.sponsorship.attribution.shapley import shapley  # noqa: E402

PATHS_CSV = ROOT / "tests" / "data" / "attribution" / "paths.csv"


def synthetic_paths(converted: int, non_converting: int, n_channels: int, seed: int) -> pd.DataFrame:
    """A path frame: converted paths first (path_id 0..converted-1), then the non-converting ones."""
    rng = np.random.default_rng(seed)
    n = converted + non_converting
    lengths = rng.integers(1, 9, n)
    labels = np.array([f"ep{i:02d}" for i in range(n_channels)], dtype=object)
    popularity = 1.0 / np.arange(1, n_channels + 1)
    favoured = popularity[rng.permutation(n_channels)]  # converting households favour other channels
    total_converted = int(lengths[:converted].sum())
    codes = np.concatenate([rng.choice(n_channels, total_converted, p=favoured / favoured.sum()),
                            rng.choice(n_channels, int(lengths.sum()) - total_converted, p=popularity / popularity.sum())])
    path = np.repeat(np.arange(n), lengths)
    ages = rng.uniform(0.0, 30.0, len(codes))
    ages = ages[np.lexsort((-ages, path))]  # oldest touch first within each path
    cuts = np.cumsum(lengths)[:-1]
    conversions = np.r_[np.ones(converted), np.zeros(non_converting)]
    return pd.DataFrame({
        "path_id": np.arange(n, dtype=np.int64),
        "channels": list(map(tuple, np.split(labels[codes], cuts))),
        "touch_times": list(map(tuple, np.split(ages, cuts))),
        "conversions": conversions,
        "value": np.where(conversions > 0, rng.gamma(2.0, 20.0, n).round(2), 0.0),
        "nulls": 1.0 - conversions,
    })


def timed(run: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def digest(totals: pd.DataFrame) -> str:
    top = totals.sort_values("conversions", ascending=False).iloc[0]
    return f"attributed {totals['conversions'].sum():,.3f} conv, top {top['channel']} {top['conversions']:,.1f}"


def bench_models(paths: pd.DataFrame, half_life: float) -> None:
    models: dict[str, Callable[[], object]] = {
        "first_touch": lambda: first_touch(paths),
        "last_touch": lambda: last_touch(paths),
        "linear": lambda: linear(paths),
        "time_decay": lambda: time_decay(paths, half_life_days=half_life),
        "position_based": lambda: position_based(paths),
        "markov (order 1)": lambda: markov(paths, order=1),
        "shapley": lambda: shapley(paths),
    }
    total = 0.0
    for name, run in models.items():
        seconds, result = timed(run)
        total += seconds
        if isinstance(result, pd.DataFrame):
            totals = channel_totals(result, paths)
            note = ""
        else:
            totals = result.channel_totals
            note = (f"; {result.method}, max s.e. {result.max_standard_error:.2f} conv"
                    if name == "shapley" else f"; P(conv) {result.conversion_probability:.4f}")
        print(f"  {name:18s} {seconds:7.3f} s   {digest(totals)}{note}")
    print(f"  {'total (7 models)':18s} {total:7.3f} s")
    seconds, result = timed(lambda: markov(paths, order=2))
    print(f"  {'markov (order 2)':18s} {seconds:7.3f} s   {digest(result.channel_totals)} (extra, not in the total)")


def bench_channel_attribution(repeat: int = 5) -> None:
    data = pd.read_csv(PATHS_CSV, sep=";")
    paths = path_frame_from_strings(data["path"], data["total_conversions"], data["total_conversion_value"],
                                    data["total_null"])
    ours_seconds, ours = timed(lambda: markov(paths, order=1), repeat)
    print(f"  ours, markov order 1 (exact):      {ours_seconds * 1000:8.2f} ms (best of {repeat})")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints a banner on import
            import ChannelAttribution as ca
    except Exception as error:  # noqa: BLE001 - any import failure just means no same-run comparison
        print(f"  ChannelAttribution not importable ({type(error).__name__}: {error}); no comparison")
        return

    def theirs_run() -> pd.DataFrame:
        with contextlib.redirect_stdout(io.StringIO()):
            return ca.markov_model(data, "path", "total_conversions", var_value="total_conversion_value",
                                   var_null="total_null", order=1, sep=">", seed=0, ncore=1, verbose=False,
                                   flg_pro=False)

    theirs_seconds, theirs = timed(theirs_run, repeat)
    print(f"  ChannelAttribution markov_model:   {theirs_seconds * 1000:8.2f} ms (best of {repeat}, simulated)")
    print(f"  ratio ours / theirs:               {ours_seconds / theirs_seconds:8.3f}")
    ours_totals = ours.channel_totals.set_index("channel")["conversions"]
    theirs_totals = theirs.set_index("channel_name")["total_conversions"]
    print("  channel   ours (exact)   theirs (sim)   difference")
    for channel, value in ours_totals.items():
        other = float(theirs_totals[channel])
        print(f"  {channel:8s} {value:13.6f} {other:14.6f} {value - other:+12.6f} ({(value - other) / other:+.2%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--converted", type=int, default=100_000)
    parser.add_argument("--non-converting", type=int, default=300_000)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--half-life", type=float, default=7.0)
    args = parser.parse_args()
    started = time.perf_counter()
    paths = synthetic_paths(args.converted, args.non_converting, args.channels, args.seed)
    touches = int(paths["channels"].map(len).sum())
    print(f"synthetic path frame: {args.converted:,} converted + {args.non_converting:,} non-converting paths, "
          f"{args.channels} channels, {touches:,} touches, seed {args.seed} (built in "
          f"{time.perf_counter() - started:.1f} s)")
    bench_models(paths, args.half_life)
    print(f"paths.csv ({PATHS_CSV.relative_to(ROOT)}):")
    bench_channel_attribution()


if __name__ == "__main__":
    main()
