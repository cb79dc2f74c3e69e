"""Benchmark: the anomaly rules' recall and false alarms on generated shows with injected events, against a naive
baseline in the same run, and the alert count on the demo network (no injected events).

Run from the project root:
    python bench/bench_anomalies.py [--shows 40] [--days 180] [--events 4] [--seed 7] [--no-demo]

What it does:
  1. generates --shows shows over --days days: a weekly rhythm, Poisson noise, levels from 15 to 3,000 downloads a
     day, a third of them with irregular releases and launch curves, each split into apps and countries;
  2. injects --events events per show in the last 60 days, away from each other and outside launch weeks: a drop
     (to 5-45% of the day), a spike (x2.5-5), an app's share collapsing (it keeps 5-20% of its downloads), a country
     spiking (+50-150% of the show's day from one country), and per run a network import gap and a bot surge;
  3. runs services.insights.anomalies on every series (the job's rules, judging the last 60 days) and the baseline
     (a day more than 3 standard deviations from the mean of the 28 days before), and prints per event kind the
     recall (events found on their day and series, with the right kind) and the false alarms (flags on a series and
     day without an event; a show's flag on the day of one of its own app or country events is not counted);
  4. unless --no-demo, seeds the demo network into a temporary SQLite database and prints how many anomalies the
     rules raise over its last 90 complete days.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.insights import anomalies as rules  # noqa: E402

WEEKLY = np.array([1.0, 0.92, 0.95, 1.0, 1.08, 0.72, 0.65])
APPS = {"Apple Podcasts": 0.45, "Spotify": 0.3, "Overcast": 0.1, "Pocket Casts": 0.08, "Other": 0.07}
COUNTRIES = {"US": 0.55, "GB": 0.15, "CA": 0.1, "DE": 0.08, "AU": 0.07, "BR": 0.05}
JUDGED_DAYS = 60
KINDS = ("drop", "spike", "app_collapse", "country_spike")


def make_show(rng: np.random.Generator, days: pd.DatetimeIndex, level: float, irregular: bool):
    mean = level * WEEKLY[days.day_of_week] * np.linspace(0.9, 1.1, len(days))
    releases: list[int] = []
    if irregular:
        at = int(rng.integers(0, 12))
        while at < len(days):
            releases.append(at)
            size = level * rng.lognormal(1.2, 0.3)
            for k, share in enumerate((1.0, 0.55, 0.3, 0.18, 0.1, 0.06, 0.04)):
                if at + k < len(days):
                    mean[at + k] += size * share
            at += int(rng.integers(8, 20))
    return mean, releases


def split(rng: np.random.Generator, totals: np.ndarray, shares: dict[str, float]) -> np.ndarray:
    p = np.array(list(shares.values()))
    return np.stack([rng.multinomial(int(n), p / p.sum()) for n in totals]).astype(float)


def inject(rng, mean, apps, countries, releases, n_events, days):
    """Returns the per-day totals and a list of events (kind, day index, series)."""
    totals = rng.poisson(mean).astype(float)
    apps[:] = split(rng, totals, APPS)
    countries[:] = split(rng, totals, COUNTRIES)
    busy = {r + k for r in releases for k in range(-1, rules.LAUNCH_DAYS + 1)}
    candidates = [i for i in range(len(days) - JUDGED_DAYS, len(days)) if i not in busy]
    chosen = sorted(rng.choice(candidates, size=min(n_events, len(candidates)), replace=False)) if candidates else []
    chosen = [d for i, d in enumerate(chosen) if i == 0 or d - chosen[i - 1] > 1]
    events = []
    for at in chosen:
        kind = KINDS[int(rng.integers(len(KINDS)))]
        if kind == "drop":
            factor = rng.uniform(0.05, 0.45)
            apps[at] = np.round(apps[at] * factor)
            countries[at] = np.round(countries[at] * factor)
            events.append(("drop", at, "downloads"))
        elif kind == "spike":
            factor = rng.uniform(2.5, 5.0)
            apps[at] = np.round(apps[at] * factor)
            countries[at] = np.round(countries[at] * factor)
            events.append(("spike", at, "downloads"))
        elif kind == "app_collapse":
            j = int(rng.integers(2))  # one of the two big apps
            apps[at, j] = np.round(apps[at, j] * rng.uniform(0.05, 0.2))
            events.append(("app_collapse", at, f"app:{list(APPS)[j]}"))
        else:
            j = int(rng.integers(1, len(COUNTRIES)))
            countries[at, j] += np.round(apps[at].sum() * rng.uniform(0.5, 1.5))
            events.append(("country_spike", at, f"country:{list(COUNTRIES)[j]}"))
    totals = apps.sum(axis=1)
    if any(k == "country_spike" for k, _, _ in events):  # the country's extra listeners are the show's too
        extra = countries.sum(axis=1) - totals
        apps[:, -1] += np.maximum(extra, 0)
        totals = apps.sum(axis=1)
    return totals, events


def run_rules(podcast_id, days, totals, apps, countries, releases, first):
    total = pd.Series(totals, index=days)
    found = rules.show_findings(podcast_id, total, [days[r].date() for r in releases], first)
    found += rules.breakdown_findings(podcast_id, pd.DataFrame(apps, index=days, columns=list(APPS)), total, "app",
                                      first)
    found += rules.breakdown_findings(podcast_id, pd.DataFrame(countries, index=days, columns=list(COUNTRIES)), total,
                                      "country", first)
    return {(f.day, f.dimension, f.kind) for f in found}


def run_baseline(days, totals, apps, countries, first):
    """A day more than 3 standard deviations from the mean of the 28 days before (counts, every series)."""
    frames = {"downloads": pd.Series(totals, index=days)}
    frames.update({f"app:{a}": pd.Series(apps[:, i], index=days) for i, a in enumerate(APPS)})
    frames.update({f"country:{c}": pd.Series(countries[:, i], index=days) for i, c in enumerate(COUNTRIES)})
    flags = set()
    for name, series in frames.items():
        mean = series.shift(1).rolling(28).mean()
        sd = series.shift(1).rolling(28).std()
        hit = (series - mean).abs() > 3 * sd
        for day in series.index[hit.fillna(False).to_numpy()]:
            if day.date() >= first:
                flags.add((day.date(), name, "spike" if series[day] > mean[day] else "drop"))
    return flags


EXPECTED_KIND = {"drop": "drop", "spike": "spike", "app_collapse": "drop", "country_spike": "spike"}


def score(flags, events, days):
    found, event_keys, show_days = Counter(), set(), set()
    for kind, at, series in events:
        day = days[at].date()
        event_keys.add((day, series))
        if kind in ("app_collapse", "country_spike"):
            show_days.add(day)  # the show's own total moves too: not a false alarm
        if (day, series, EXPECTED_KIND[kind]) in flags:
            found[kind] += 1
    false = sum(1 for day, series, _ in flags
                if (day, series) not in event_keys and not (series == "downloads" and day in show_days)
                and not (series.startswith(("app:", "country:")) and any(d == day for d, _ in event_keys)))
    return found, false


def network_events(rng, days):
    requests = pd.Series(rng.poisson(5000 * WEEKLY[days.day_of_week]).astype(float), index=days)
    bots = pd.Series(rng.poisson(200, len(days)).astype(float), index=days)
    gap, surge = len(days) - 20, len(days) - 9
    requests.iloc[gap] = 0
    bots.iloc[surge] += 3000
    first = days[len(days) - JUDGED_DAYS].date()
    found = {(f.day, f.dimension) for f in rules.network_findings(requests, bots, first)}
    return {"import_gap": (days[gap].date(), "requests") in found,
            "bot_surge": (days[surge].date(), "bot_requests") in found,
            "false": len(found - {(days[gap].date(), "requests"), (days[surge].date(), "bot_requests")})}


def demo_alerts() -> tuple[int, int, Counter]:
    from services import demo, migrate
    from services.db import Database
    from services.insights.anomaly_store import detect_anomalies

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/demo.db"
        migrate.upgrade(url)
        db = Database(url)
        tenant_id = demo.seed_demo(db, password="bench-password-1")["tenant_id"]
        last = date.today() - timedelta(days=1)
        with db.session(tenant_id) as s:
            found = detect_anomalies(s, tenant_id, last - timedelta(days=89), last)
        shows = len(demo.SHOWS)
        db.dispose()
    return len(found), shows, Counter(f"{f.dimension.split(':')[0]} {f.kind}" for f in found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shows", type=int, default=40)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--events", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-demo", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    days = pd.date_range(date(2026, 1, 5), periods=args.days, freq="D")
    first = days[args.days - JUDGED_DAYS].date()
    totals_by = {"rules": Counter(), "baseline": Counter()}
    false_by = Counter()
    events_by = Counter()
    started = time.perf_counter()
    elapsed = 0.0
    for show in range(args.shows):
        level = float(np.exp(rng.uniform(np.log(15), np.log(3000))))
        mean, releases = make_show(rng, days, level, irregular=show % 3 == 0)
        apps, countries = np.zeros((len(days), len(APPS))), np.zeros((len(days), len(COUNTRIES)))
        totals, events = inject(rng, mean, apps, countries, releases, args.events, days)
        events_by.update(kind for kind, _, _ in events)
        t = time.perf_counter()
        flags = run_rules(show + 1, days, totals, apps, countries, releases, first)
        elapsed += time.perf_counter() - t
        for name, found_flags in (("rules", flags), ("baseline", run_baseline(days, totals, apps, countries, first))):
            found, false = score(found_flags, events, days)
            totals_by[name].update(found)
            false_by[name] += false
    network = network_events(rng, days)
    print(f"generated: {args.shows} shows x {args.days} days, {sum(events_by.values())} injected events judged over "
          f"the last {JUDGED_DAYS} days (seed {args.seed}); rules took {elapsed:.2f} s "
          f"({elapsed / args.shows * 1000:.1f} ms per show with its apps and countries)")
    print(f"{'event':<15}{'injected':>9}{'rules found':>13}{'baseline found':>16}")
    for kind in KINDS:
        n = events_by[kind]
        print(f"{kind:<15}{n:>9}{totals_by['rules'][kind]:>13}{totals_by['baseline'][kind]:>16}")
    all_events = sum(events_by.values())
    for name in ("rules", "baseline"):
        recall = sum(totals_by[name].values()) / all_events if all_events else 1.0
        print(f"{name}: recall {recall:.1%}, false alarms {false_by[name]} "
              f"(over {args.shows * JUDGED_DAYS} show-days, {args.shows * JUDGED_DAYS * (1 + len(APPS) + len(COUNTRIES))}"
              f" series-days)")
    print(f"network: import gap found {network['import_gap']}, bot surge found {network['bot_surge']}, "
          f"false alarms {network['false']}")
    if not args.no_demo:
        t = time.perf_counter()
        n, shows, kinds = demo_alerts()
        print(f"demo network (no injected events): {n} anomalies over its last 90 complete days, {shows} shows "
              f"{dict(kinds)} (seed + detect {time.perf_counter() - t:.1f} s)")
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
