"""Rolling-origin backtests of the forecasts against their baselines, on histories held in memory (read from a
network's rollups, or generated): MAPE and the share of actual values inside the 80% intervals."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from services.insights import forecasts as fc

EPISODE_ORIGINS = (1, 3, 7)  # days of an episode's own downloads the forecast has seen
EPISODE_TARGETS = (3, 7, 30)
SHOW_HORIZON = 56


@dataclass
class ShowHistory:
    """One show: daily downloads by date, its episodes' release days, their daily downloads (episode_id, day,
    downloads)."""

    daily: pd.Series
    released: dict[int, date]
    episode_rows: pd.DataFrame


@dataclass
class Scores:
    """Errors of a forecast and its baseline over every (origin, target) scored."""

    forecast_errors: list[float] = field(default_factory=list)
    baseline_errors: list[float] = field(default_factory=list)
    covered: list[bool] = field(default_factory=list)

    def add(self, actual: float, forecast: float, baseline: float, lower: float, upper: float) -> None:
        if actual <= 0:
            return  # a percentage error needs a positive actual
        self.forecast_errors.append(abs(forecast - actual) / actual)
        self.baseline_errors.append(abs(baseline - actual) / actual)
        self.covered.append(lower <= actual <= upper)

    @property
    def n(self) -> int:
        return len(self.forecast_errors)

    def as_row(self, name: str) -> dict:
        return {"forecast": name, "n": self.n, "mape": 100 * float(np.mean(self.forecast_errors)) if self.n else None,
                "baseline_mape": 100 * float(np.mean(self.baseline_errors)) if self.n else None,
                "coverage": 100 * float(np.mean(self.covered)) if self.n else None}


def show_origins(last: date, count: int, step: int = 28, horizon: int = SHOW_HORIZON) -> list[date]:
    """Forecast origins (as_of days) ending `horizon` days before the history's last day, `step` days apart."""
    return [last - timedelta(days=horizon + step * i) for i in range(count)]


def backtest_show(show: ShowHistory, origins: list[date], scores: Scores, horizon: int = SHOW_HORIZON) -> None:
    """Each origin: the daily forecast for `horizon` days against the seasonal naive (same weekday last week)."""
    for origin in origins:
        past = [d for d in show.released.values() if d <= origin]
        truth = [d for d in show.released.values() if origin < d <= origin + timedelta(days=horizon)]
        upcoming = fc.expected_releases(past, origin, origin + timedelta(days=horizon))
        points = fc.show_forecast(show.daily, past, upcoming if upcoming else truth[:0], origin, horizon)
        naive = fc.seasonal_naive(show.daily, origin, horizon)
        actual = show.daily.reindex([p.day for p in points], fill_value=0).to_numpy(float)
        for p, a, b in zip(points, actual, naive):
            scores.add(a, p.downloads, b, p.lower, p.upper)


def backtest_episodes(show: ShowHistory, last: date, first_release: date, scores: Scores) -> None:
    """Each episode released from first_release whose day 30 has ended by `last`: after 1, 3 and 7 of its own days,
    its cumulative downloads at days 3, 7 and 30 against the show's median launch curve."""
    full = fc.launch_matrix(show.episode_rows, show.released, last)
    released = np.array([show.released[e] for e in full.index])
    values = full.to_numpy()
    for row, episode_id in enumerate(full.index):
        start = show.released[episode_id]
        if start < first_release or start + timedelta(days=max(EPISODE_TARGETS) - 1) > last:
            continue
        for age in EPISODE_ORIGINS:
            origin = start + timedelta(days=age - 1)
            past = _as_seen(values[:row], released[:row], origin)
            if not len(past):
                continue
            points = {p.step: p for p in fc.launch_curve_forecast(past, values[row, :age], steps=EPISODE_TARGETS)}
            median = fc.median_launch_curve(past)
            for target in EPISODE_TARGETS:
                if target > age and target in points and not np.isnan(median[target - 1]):
                    p = points[target]
                    scores.add(values[row, target - 1], p.downloads, median[target - 1], p.lower, p.upper)


def _as_seen(values: np.ndarray, released: np.ndarray, origin: date) -> np.ndarray:
    """The earlier episodes' curves as they stood at `origin` (days not yet completed are NaN)."""
    ages = np.array([(origin - r).days + 1 for r in released])
    keep = ages >= 1
    out = values[keep].copy()
    out[np.arange(out.shape[1])[None, :] + 1 > ages[keep][:, None]] = np.nan
    return out


@dataclass(frozen=True)
class Flight:
    """A campaign in a backtest: show-wide placements on `shows`, flying first..last, forecast at `origin`."""

    shows: tuple[int, ...]
    first: date
    last: date
    origin: date


def backtest_campaign(network: dict[int, ShowHistory], flight: Flight, scores: Scores, seed: int = 0,
                      reference: Scores | None = None) -> None:
    """Impressions still to come after the origin: the shows' forecasts summed (delivery_forecast) against the
    seasonal naive summed over the same days; `reference` gets the former pacing forecast (each show's mean of its
    last 28 days) as its baseline."""
    first = max(flight.first, flight.origin + timedelta(days=1))
    horizon = (flight.last - flight.origin).days
    days = pd.date_range(first, flight.last).date
    expected, naive, mean28, actual = [], 0.0, 0.0, 0.0
    for show_id in flight.shows:
        show = network[show_id]
        past = [d for d in show.released.values() if d <= flight.origin]
        upcoming = fc.expected_releases(past, flight.origin, flight.last)
        points = fc.show_forecast(show.daily, past, upcoming, flight.origin, horizon)
        window = fc.show_window(points, first, flight.last, subject=f"show:{show_id}")
        if window is not None:
            expected.append(window)
        naive += float(fc.seasonal_naive(show.daily, flight.origin, horizon)[-len(days):].sum())
        recent = pd.date_range(flight.origin - timedelta(days=27), flight.origin).date
        mean28 += float(show.daily.reindex(recent, fill_value=0).mean()) * len(days)
        actual += float(show.daily.reindex(days, fill_value=0).sum())
    outcome = fc.delivery_forecast(0.0, expected, None, seed=seed)
    scores.add(actual, outcome.forecast, naive, outcome.lower, outcome.upper)
    if reference is not None:
        reference.add(actual, outcome.forecast, mean28, outcome.lower, outcome.upper)
