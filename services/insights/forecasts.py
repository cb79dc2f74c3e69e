"""Forecasts, as pure functions on series read from the rollups: a new episode's launch curve (cumulative downloads
by day since release, from the show's past launches scaled by the episode's own early days), a show's daily downloads
(weekday pattern and release calendar), and a campaign's delivery to the end of its flight (the shows' and
episodes' forecasts summed, with the probability of reaching the goal). Each gives an 80% interval.

Plain numpy: each model is a small weighted regression or a set of ratios across a show's own episodes, so a
statistics framework would add a large dependency for a few lines of linear algebra."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

Z80 = 1.2815515655446004  # the standard normal's 90% quantile: an 80% two-sided interval
MAX_EPISODE_DAY = 90  # a launch curve is forecast up to day 90 since release
RECENT_EPISODES = 26  # the show's most recent launches that shape a new one's curve
SHOW_HORIZON = 91  # days a show's forecast covers (a campaign's flight can reach past the 8 weeks shown)
FIT_DAYS = 112  # a show's history the daily model learns from
HALF_LIFE_DAYS = 28.0  # recent days weigh more, so a growing or shrinking show's level follows it
MIN_FIT_DAYS = 14
RELEASE_AGES = ((0, 0), (1, 1), (2, 2), (3, 3), (4, 6), (7, 13))  # release-day bump, then its decay
TREND_RIDGE = 4.0  # a trend must show in the data, not in a few noisy weeks
TREND_DAMPING = 0.5  # a trend is followed half-way into the future: growth rarely keeps its pace
RIDGE = 0.1  # shrinks the release effects the history cannot tell apart from a weekday's (a weekly show's release
# day is always the same weekday)
DEFAULT_LOG_SD = 0.35  # spread assumed when a show has too few launches to measure its own
SIMULATIONS = 4000


@dataclass(frozen=True)
class ForecastPoint:
    """One forecast day: `step` is the day since release (episodes) or the day after as_of (shows); downloads are
    cumulative for episodes, daily for shows. `sd_common` is the log-scale spread shared by every day of the forecast
    (the level), `sd_daily` the day's own; an observed day has lower == upper == downloads."""

    step: int
    day: date | None
    downloads: float
    lower: float
    upper: float
    observed: bool = False
    sd_common: float = 0.0
    sd_daily: float = 0.0

    def as_dict(self) -> dict:
        return {"step": self.step, "day": self.day.isoformat() if self.day else None,
                "downloads": round(self.downloads, 1), "lower": round(self.lower, 1), "upper": round(self.upper, 1),
                "observed": self.observed, "sd_common": round(self.sd_common, 4), "sd_daily": round(self.sd_daily, 4)}

    @classmethod
    def from_dict(cls, data: dict) -> ForecastPoint:
        day = data.get("day")
        return cls(int(data["step"]), date.fromisoformat(day) if day else None, float(data["downloads"]),
                   float(data["lower"]), float(data["upper"]), bool(data.get("observed")),
                   float(data.get("sd_common", 0.0)), float(data.get("sd_daily", 0.0)))


def t_quantile_90(dof: float) -> float:
    """Student's t 90% quantile (Cornish-Fisher expansion; within 1% of the exact value from 3 degrees of
    freedom): a small sample's prediction interval is wider than the normal's."""
    dof = max(dof, 1.0)
    z = Z80
    return z + (z ** 3 + z) / (4 * dof) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * dof ** 2)


def _log_band(center: float, sd: float, quantile: float = Z80) -> tuple[float, float]:
    """An interval around `center` that is symmetric on the log(1 + x) scale."""
    log_center = np.log1p(max(center, 0.0))
    return float(np.expm1(log_center - quantile * sd)), float(np.expm1(log_center + quantile * sd))


# --- a new episode's launch curve ---------------------------------------------------------------------------------

def launch_matrix(rows: pd.DataFrame, released: dict[int, date], as_of: date,
                  days: int = MAX_EPISODE_DAY) -> pd.DataFrame:
    """Cumulative downloads by day since release (columns 1..days), one row per episode of `released` in release
    order; NaN on the days an episode had not completed by as_of. `rows`: episode_id, day, downloads (daily)."""
    order = sorted(released, key=lambda e: (released[e], e))
    frame = rows[rows["episode_id"].isin(order)].copy() if len(rows) else pd.DataFrame(
        columns=["episode_id", "day", "downloads"])
    if len(frame):
        start = frame["episode_id"].map(released)
        frame["n"] = [(d - r).days + 1 for d, r in zip(pd.to_datetime(frame["day"]).dt.date, start)]
        frame = frame[(frame["n"] >= 1) & (frame["n"] <= days)]
    daily = frame.pivot_table(index="episode_id", columns="n", values="downloads", aggfunc="sum", fill_value=0) \
        if len(frame) else pd.DataFrame()
    daily = daily.reindex(index=order, columns=range(1, days + 1), fill_value=0).astype(float)
    ages = np.array([(as_of - released[e]).days + 1 for e in order])
    return daily.cumsum(axis=1).where(np.arange(1, days + 1)[None, :] <= ages[:, None])


def launch_curve_forecast(past: np.ndarray, observed: np.ndarray, days: int = MAX_EPISODE_DAY,
                          released: date | None = None, steps: tuple[int, ...] | None = None) -> list[ForecastPoint]:
    """Cumulative downloads at days 1..days since release.

    `past`: the show's earlier episodes, one row each, oldest first, cumulative downloads by day since release
    (NaN where an episode has not reached that day); `observed`: this episode's cumulative downloads on its completed
    days (empty before its first day ends). A day already observed is returned as observed. A later day d is the last
    observed cumulative times the median ratio C(d) / C(age) across the show's recent episodes (before any day is
    observed: the median of their C(d)); the 80% interval is the t prediction interval of those log ratios."""
    past = np.asarray(past, dtype=float).reshape(-1, days) if np.size(past) else np.empty((0, days))
    observed = np.asarray(observed, dtype=float)[:days]
    age = len(observed)
    anchor = float(observed[-1]) if age else 0.0
    out = []
    for d in steps or range(1, days + 1):
        day = released + timedelta(days=d - 1) if released else None
        if d <= age:
            value = float(observed[d - 1])
            out.append(ForecastPoint(d, day, value, value, value, observed=True))
            continue
        point = _launch_point(past, age, anchor, d)
        if point is not None:
            center, sd, n = point
            lower, upper = _log_band(center, sd * np.sqrt(1 + 1 / n), t_quantile_90(n - 1))
            out.append(ForecastPoint(d, day, center, max(lower, anchor), max(upper, anchor), sd_common=sd))
    return out


def _launch_point(past: np.ndarray, age: int, anchor: float, d: int) -> tuple[float, float, int] | None:
    """(center, log-scale sd, episodes used) for day d from the recent episodes that reached it."""
    reached = past[~np.isnan(past[:, d - 1])][-RECENT_EPISODES:]
    if age:
        base = reached[:, age - 1]
        reached = reached[base > 0]
        logs = np.log1p(reached[:, d - 1]) - np.log1p(reached[:, age - 1])
        if len(logs) == 0:
            return None
        center = float(np.expm1(np.log1p(anchor) + np.median(logs)))
    else:
        logs = np.log1p(reached[:, d - 1])
        if len(logs) == 0:
            return None
        center = float(np.expm1(np.median(logs)))
    sd = float(np.std(logs, ddof=1)) if len(logs) >= 3 else DEFAULT_LOG_SD
    return max(center, anchor), sd, max(len(logs), 2)


def median_launch_curve(past: np.ndarray, days: int = MAX_EPISODE_DAY) -> np.ndarray:
    """The show's median cumulative downloads by day (NaN where no episode reached the day): the baseline."""
    past = np.asarray(past, dtype=float).reshape(-1, days)
    out = np.full(days, np.nan)
    for d in range(days):
        column = past[:, d][~np.isnan(past[:, d])][-RECENT_EPISODES:]
        if len(column):
            out[d] = np.median(column)
    return out


# --- a show's daily downloads -----------------------------------------------------------------------------------

def expected_releases(published: list[date], as_of: date, until: date) -> list[date]:
    """Release days expected after as_of up to `until`. A show releasing more than weekly on fixed weekdays keeps the
    weekdays it used in at least two of its last four weeks; any other keeps the median gap of its last releases.
    None when the show has released nothing for three gaps (it has paused)."""
    days = sorted(set(published))[-6:]
    if len(days) < 2:
        return []
    gap = int(np.median(np.diff([d.toordinal() for d in days])))
    if gap <= 0 or (as_of - days[-1]).days > 3 * max(gap, 7):
        return []
    if gap < 7:
        recent = [d for d in set(published) if as_of - timedelta(days=28) < d <= as_of]
        weekdays = {w for w in range(7) if sum(d.weekday() == w for d in recent) >= 2}
        if abs(4 * len(weekdays) - len(recent)) <= 1:  # the weekdays account for the last four weeks' releases
            return [d.date() for d in pd.date_range(as_of + timedelta(days=1), until) if d.weekday() in weekdays]
    out, nxt = [], days[-1] + timedelta(days=gap)
    while nxt <= until:
        if nxt > as_of:
            out.append(nxt)
        nxt += timedelta(days=gap)
    return out


def _design(days: pd.DatetimeIndex, releases: list[date], as_of: date) -> np.ndarray:
    """Columns: intercept, the level's trend (per quarter, damped ahead of as_of), six weekday dummies (Monday is
    the reference), releases at each age group."""
    weekday = days.day_of_week.to_numpy()
    ordinals = days.map(pd.Timestamp.toordinal).to_numpy()
    quarters = (ordinals - as_of.toordinal()) / 91.0
    trend = np.where(quarters > 0, quarters * TREND_DAMPING, quarters)
    columns = [np.ones(len(days)), trend] + [(weekday == w).astype(float) for w in range(1, 7)]
    released = np.array(sorted(d.toordinal() for d in releases))
    for lo, hi in RELEASE_AGES:
        ages = ordinals[:, None] - released[None, :] if len(released) else np.empty((len(days), 0))
        columns.append(((ages >= lo) & (ages <= hi)).sum(axis=1).astype(float))
    return np.column_stack(columns)


@dataclass(frozen=True)
class ShowFit:
    coef: np.ndarray
    covariance: np.ndarray  # of the coefficients: each future day's parameter uncertainty
    sd: float  # a day's log-scale residual spread
    drift: float  # the level's log-scale random-walk spread per week
    smear: float  # mean of exp(residual): turns a log-scale fit into expected downloads (Duan's smearing)


def fit_show(daily: pd.Series, releases: list[date]) -> ShowFit:
    """Weighted ridge regression of log(1 + downloads) on a trend, weekday and release-age effects over the last
    FIT_DAYS days; `daily` is indexed by date, one value per day."""
    y = np.log1p(daily.to_numpy(dtype=float))
    days = pd.DatetimeIndex(pd.to_datetime(daily.index))
    x = _design(days, releases, days[-1].date())
    age = (len(y) - 1 - np.arange(len(y))).astype(float)
    w = 0.5 ** (age / HALF_LIFE_DAYS)
    penalty = RIDGE * np.eye(x.shape[1])
    penalty[0, 0] = 0.0
    penalty[2:8, 2:8] = 0.0  # weekdays are always identifiable; a release effect that is a weekday's is shrunk
    penalty[1, 1] = TREND_RIDGE
    inverse = np.linalg.inv(x.T @ (x * w[:, None]) + penalty)
    coef = inverse @ (x.T @ (w * y))
    resid = y - x @ coef
    used = max(len(y) - np.linalg.matrix_rank(x), 1)
    sd = float(np.sqrt(np.sum(w * resid ** 2) / np.sum(w) * len(y) / used))
    # The weighted estimate's covariance: sd^2 (X'WX)^-1 X'W^2X (X'WX)^-1.
    covariance = sd ** 2 * inverse @ (x.T @ (x * (w ** 2)[:, None])) @ inverse
    smear = float(np.sum(w * np.exp(resid)) / np.sum(w))
    return ShowFit(coef, covariance, sd, _drift(resid, sd), smear)


def _drift(resid: np.ndarray, sd: float) -> float:
    """How far the level wanders per week: the spread of week-to-week changes of the residuals' weekly means, less
    what a day's own noise explains."""
    weeks = len(resid) // 7
    if weeks < 3:
        return sd / 2
    means = resid[len(resid) - 7 * weeks:].reshape(weeks, 7).mean(axis=1)
    change = np.var(np.diff(means), ddof=1) / 2 - sd ** 2 / 7
    return float(np.sqrt(max(change, (sd / 6) ** 2)))


def show_forecast(daily: pd.Series, releases: list[date], upcoming: list[date], as_of: date,
                  horizon: int = SHOW_HORIZON) -> list[ForecastPoint]:
    """Daily downloads for the `horizon` days after as_of. `daily`: the show's downloads on its days up to as_of (a
    missing day counts 0; days before the show's first download are not history); `releases`: past release days;
    `upcoming`: the release days expected in the horizon."""
    history = _history(daily, as_of)
    future = pd.date_range(as_of + timedelta(days=1), periods=horizon)
    if len(history) < MIN_FIT_DAYS:
        return _flat_forecast(history, future)
    fit = fit_show(history, releases)
    x = _design(future, sorted(set(releases) | set(upcoming)), as_of)
    center = x @ fit.coef
    out = []
    for h, (day, mu, row) in enumerate(zip(future, center, x), start=1):
        param = float(row @ fit.covariance @ row)
        common = float(np.sqrt(param + fit.drift ** 2 * h / 7))
        lower, upper = np.expm1(mu - Z80 * np.hypot(common, fit.sd)), np.expm1(mu + Z80 * np.hypot(common, fit.sd))
        expected = float(np.clip(np.exp(mu) * fit.smear - 1, max(lower, 0.0), upper))
        out.append(ForecastPoint(h, day.date(), expected, float(max(lower, 0.0)), float(max(upper, 0.0)),
                                 sd_common=common, sd_daily=fit.sd))
    return out


def _history(daily: pd.Series, as_of: date) -> pd.Series:
    """The last FIT_DAYS days to as_of from the show's first day with downloads, missing days as 0."""
    series = daily[daily.index <= as_of] if len(daily) else daily
    positive = series[series > 0]
    if positive.empty:
        return pd.Series(dtype=float)
    first = max(min(positive.index), as_of - timedelta(days=FIT_DAYS - 1))
    days = pd.date_range(first, as_of).date
    return series.reindex(days, fill_value=0).astype(float)


def _flat_forecast(history: pd.Series, future: pd.DatetimeIndex) -> list[ForecastPoint]:
    """Too little history for weekdays and releases: the mean day, with a wide interval."""
    mean = float(history.mean()) if len(history) else 0.0
    lower, upper = _log_band(mean, 2 * DEFAULT_LOG_SD)
    return [ForecastPoint(h, day.date(), mean, lower, upper, sd_common=2 * DEFAULT_LOG_SD)
            for h, day in enumerate(future, start=1)]


def seasonal_naive(daily: pd.Series, as_of: date, horizon: int) -> np.ndarray:
    """The baseline: each future day is the same weekday of the last observed week."""
    last_week = daily.reindex(pd.date_range(as_of - timedelta(days=6), as_of).date, fill_value=0).to_numpy(float)
    return np.array([last_week[(h - 1) % 7] for h in range(1, horizon + 1)])


# --- a campaign's delivery -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Expected:
    """Impressions one placement should still deliver: a point and its log-scale spread; placements on the same
    subject (a show, or one episode) share their level, so they move together."""

    subject: str
    impressions: float
    sd: float


@dataclass(frozen=True)
class DeliveryForecast:
    forecast: float  # delivered + the points of every placement
    lower: float
    upper: float
    probability: float | None  # of reaching the goal by the flight's end (None without a goal)

    def as_dict(self) -> dict:
        return {"forecast": round(self.forecast), "forecast_lower": round(self.lower),
                "forecast_upper": round(self.upper),
                "goal_probability": None if self.probability is None else round(self.probability, 3)}


def show_window(points: list[ForecastPoint], first: date, last: date, subject: str = "show") -> Expected | None:
    """A show's expected downloads on days first..last from its daily forecast; days past the forecast repeat its
    last week (same weekday). The spread of the sum: the shared level's, plus the days' own, averaged out."""
    if not points or last < first:
        return None
    by_day = {p.day: p for p in points}
    tail = points[-7:]
    chosen = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        chosen.append(by_day.get(day) or tail[(day - points[-1].day).days % 7 - 1])
    values = np.array([p.downloads for p in chosen])
    total = float(values.sum())
    if total <= 0:
        return Expected(subject, 0.0, 0.0)
    common = float(np.average([p.sd_common for p in chosen], weights=values))
    own = float(np.sqrt(np.sum((values * np.array([p.sd_daily for p in chosen])) ** 2)) / total)
    return Expected(subject, total, float(np.hypot(common, own)))


def episode_window(points: list[ForecastPoint], first_step: int, last_step: int,
                   subject: str = "episode") -> Expected | None:
    """An episode's expected downloads on its days first_step..last_step since release, from its cumulative
    forecast: C(last) - C(first - 1); the spread is C(last)'s, carried by the part still to come."""
    by_step = {p.step: p for p in points}
    last_step = min(last_step, max(by_step, default=0))
    if last_step < first_step or last_step not in by_step:
        return None
    end = by_step[last_step]
    start = by_step.get(first_step - 1)
    before = start.downloads if start else 0.0
    remaining = max(end.downloads - before, 0.0)
    if end.observed or remaining <= 0:
        return Expected(subject, remaining, 0.0)
    sd = np.log1p(end.upper) - np.log1p(end.downloads)
    spread = sd / Z80 * end.downloads / remaining
    return Expected(subject, remaining, float(min(spread, 1.5)))


def delivery_forecast(delivered: float, expected: list[Expected], goal: int | None,
                      seed: int = 0) -> DeliveryForecast:
    """Delivered so far plus every placement's expected impressions; the interval and the probability of reaching
    the goal come from simulating each subject's log-normal level (placements on one subject share it)."""
    point = delivered + sum(e.impressions for e in expected)
    rng = np.random.default_rng(seed)
    shocks = {subject: rng.standard_normal(SIMULATIONS) for subject in sorted({e.subject for e in expected})}
    totals = np.full(SIMULATIONS, float(delivered))
    for e in expected:
        if e.impressions > 0:
            totals += e.impressions * np.exp(e.sd * shocks[e.subject])  # the point is each one's median
    lower, upper = np.quantile(totals, [0.1, 0.9])
    probability = float(np.mean(totals >= goal)) if goal else None
    return DeliveryForecast(point, float(min(lower, point)), float(max(upper, point)), probability)
