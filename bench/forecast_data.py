"""A generated network for the forecast backtests: shows with a weekday pattern, a release calendar, each episode's
launch spike decaying into the back catalogue, a wandering audience level and count noise, as daily rollup-like
series per episode."""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from services.insights.backtest import ShowHistory

CADENCES = (7, 7, 7, 14, 3, 10, 1)  # days between releases; 1: every weekday


def generate_show(rng: np.random.Generator, first: date, days: int, lead: int = 365) -> ShowHistory:
    """`days` days of history from `first`, with `lead` days of earlier releases feeding the back catalogue."""
    span = lead + days
    cadence = int(rng.choice(CADENCES))
    weekday = rng.uniform(0.1, 0.4) * np.array([1.0, 1.1, 1.0, 0.9, 0.6, -1.2, -1.4])  # weekdays up, weekend down
    level = np.exp(np.cumsum(rng.normal(rng.normal(0.0008, 0.0008), 0.012, span)))  # audience wanders and grows
    size = float(rng.lognormal(np.log(400), 0.9))
    decay = rng.uniform(1.1, 1.7)
    shape = (np.arange(span) + 1.0) ** -decay
    shape /= shape[:90].sum()
    start = first - timedelta(days=lead)
    calendar = pd.date_range(start, periods=span)
    releases = _release_offsets(rng, cadence, calendar)
    totals = size * rng.lognormal(0.0, 0.3, len(releases))
    rate = np.zeros((len(releases), span))
    for row, (offset, total) in enumerate(zip(releases, totals)):
        rate[row, offset:] = total * shape[: span - offset]
    day_noise = rng.lognormal(0.0, 0.07, span)
    rate *= (level * (1 + weekday[calendar.day_of_week]) * day_noise)[None, :]
    counts = rng.poisson(rate)[:, lead:]
    ids = np.arange(1, len(releases) + 1)
    visible = pd.date_range(first, periods=days).date
    frame = pd.DataFrame(counts, index=ids, columns=visible)
    rows = frame.stack().rename("downloads").rename_axis(["episode_id", "day"]).reset_index()
    rows = rows[rows["downloads"] > 0]
    released = {int(i): calendar[o].date() for i, o in zip(ids, releases)}
    daily = pd.Series(counts.sum(axis=0).astype(float), index=visible)
    return ShowHistory(daily=daily, released=released, episode_rows=rows.reset_index(drop=True))


def _release_offsets(rng: np.random.Generator, cadence: int, calendar: pd.DatetimeIndex) -> list[int]:
    if cadence == 1:
        return [i for i, d in enumerate(calendar) if d.weekday() < 5]
    first = int(rng.integers(0, cadence))
    offsets = list(range(first, len(calendar), cadence))
    return [o for o in offsets if rng.random() > 0.05]  # a missed release now and then


def generate_network(shows: int = 50, days: int = 365, seed: int = 20261203,
                     first: date = date(2025, 1, 6)) -> dict[int, ShowHistory]:
    rng = np.random.default_rng(seed)
    return {n: generate_show(rng, first, days) for n in range(1, shows + 1)}
