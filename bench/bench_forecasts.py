"""Benchmark: rolling-origin backtests of the forecasts against a seasonal-naive baseline, on the Demo Network and on
a generated network of 50 shows.

Targets: every forecast's MAPE below its baseline's; each 80% interval covering between 70% and 90% of the actuals.

Run from the project root (about a minute; most of it seeding the demo):
    python bench/bench_forecasts.py [--shows 50] [--days 365] [--campaigns 300] [--no-demo]

What it does:
  1. seeds the Demo Network (services.demo) into a fresh SQLite file and reads each show's history back from the
     daily rollups through services.insights.forecast_store, as the forecasting job does;
  2. generates 50 shows (bench/forecast_data.py: weekday pattern, release calendar, launch spikes decaying into the
     back catalogue, a wandering audience level, count noise) as daily per-episode series;
  3. on each network, scores (services.insights.backtest):
     - episode: each episode released in the last 150 days (demo: 365), forecast after 1, 3 and 7 of its own days,
       its cumulative downloads at days 3, 7 and 30; baseline: the show's median launch curve;
     - show: daily downloads for 56 days from 4 origins (demo: 8), 28 days apart, ending 56 days before the last
       day; baseline: the same weekday of the last observed week;
     - campaign delivery: random flights (21-56 days) of show-wide placements on 1-3 shows, forecast at a random
       day of their first half, impressions still to come; baselines: the seasonal naive summed over the same days,
       and (for reference) the former pacing forecast, each show's mean of its last 28 days;
  4. prints MAPE, baseline MAPE and 80% coverage per forecast, and a digest of every scored error.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.forecast_data import generate_network  # noqa: E402
from services import accounts, demo, migrate  # noqa: E402
from services.db import Database  # noqa: E402
from services.insights import backtest as bt  # noqa: E402
from services.insights import forecast_store  # noqa: E402
from services.models import Podcast  # noqa: E402

SEED = 20261203


def demo_network() -> tuple[dict[int, bt.ShowHistory], date]:
    """The Demo Network's shows, read from its rollups the way the forecasting job reads them."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/demo.db"
        migrate.upgrade(url)
        db = Database(url)
        demo.seed_demo(db, password="bench-password-1")
        tenant_id = accounts.get_tenant_by_slug(db, demo.DEMO_SLUG).id
        last = forecast_store.last_complete_day()
        shows = {}
        with db.session(tenant_id) as s:
            for podcast_id in s.scalars(Podcast.__table__.select().with_only_columns(Podcast.id)
                                        .where(Podcast.tenant_id == tenant_id)):
                released = forecast_store.release_days(s, tenant_id, podcast_id, last)
                daily = forecast_store.show_daily(s, tenant_id, podcast_id, last - timedelta(days=demo.HISTORY_DAYS),
                                                  last)
                rows = forecast_store.episode_rows(s, tenant_id, released, last)
                shows[int(podcast_id)] = bt.ShowHistory(daily, released, rows)
        db.dispose()
    return shows, last


def score(network: dict[int, bt.ShowHistory], last: date, show_origins: int, episode_days: int,
          campaigns: int) -> dict[str, tuple[bt.Scores, bt.Scores | None]]:
    episode, show, delivery, mean28 = bt.Scores(), bt.Scores(), bt.Scores(), bt.Scores()
    for history in network.values():
        bt.backtest_episodes(history, last, last - timedelta(days=episode_days), episode)
        bt.backtest_show(history, bt.show_origins(last, show_origins), show)
    rng = np.random.default_rng(SEED)
    for n in range(campaigns):
        flight = random_flight(rng, list(network), last)
        bt.backtest_campaign(network, flight, delivery, seed=n, reference=mean28)
    return {"episode (cumulative at day 3/7/30)": (episode, None), "show (daily, next 56 days)": (show, None),
            "campaign delivery (rest of flight)": (delivery, mean28)}


def random_flight(rng: np.random.Generator, shows: list[int], last: date) -> bt.Flight:
    chosen = tuple(int(x) for x in rng.choice(shows, size=min(int(rng.integers(1, 4)), len(shows)), replace=False))
    length = int(rng.integers(21, 57))
    end = last - timedelta(days=int(rng.integers(0, 90)))
    first = end - timedelta(days=length - 1)
    return bt.Flight(chosen, first, end, first + timedelta(days=int(rng.integers(0, length // 2))))


def print_table(name: str, results: dict, digest) -> bool:
    print(f"\n{name}")
    print(f"{'forecast':38} {'n':>6} {'MAPE %':>8} {'baseline MAPE %':>16} {'80% coverage %':>15}  verdict")
    ok = True
    for label, (scores, reference) in results.items():
        row = scores.as_row(label)
        good = row["mape"] < row["baseline_mape"] and 70 <= row["coverage"] <= 90
        ok &= good
        print(f"{label:38} {row['n']:>6} {row['mape']:>8.1f} {row['baseline_mape']:>16.1f} {row['coverage']:>15.1f}  "
              f"{'beats baseline, interval calibrated' if good else 'FAILS'}")
        if reference is not None:
            print(f"{'  former pacing (28-day mean) for reference':38} {reference.n:>6} {'':>8} "
                  f"{reference.as_row('')['baseline_mape']:>16.1f}")
        for errors in (scores.forecast_errors, scores.baseline_errors):
            digest.update(np.round(np.array(errors), 6).tobytes())
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shows", type=int, default=50)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--campaigns", type=int, default=300)
    parser.add_argument("--no-demo", action="store_true")
    args = parser.parse_args()
    digest, ok, started = hashlib.sha256(), True, time.perf_counter()
    if not args.no_demo:
        network, last = demo_network()
        print(f"demo network: {len(network)} shows, {sum(len(s.released) for s in network.values())} episodes, "
              f"read from the rollups in {time.perf_counter() - started:.0f} s")
        ok &= print_table("Demo Network", score(network, last, 8, 365, args.campaigns // 3), digest)
    generated = generate_network(args.shows, args.days, SEED)
    last = max(next(iter(generated.values())).daily.index)
    ok &= print_table(f"Generated network ({args.shows} shows, {args.days} days)",
                      score(generated, last, 4, 150, args.campaigns), digest)
    print(f"\ndigest {digest.hexdigest()[:16]}  ({time.perf_counter() - started:.0f} s)")
    print("all forecasts beat their baselines with calibrated intervals" if ok else "SOME TARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
