"""Hand-built daily series with a weekly rhythm and Poisson noise, for the anomaly rules' tests and bench."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

WEEKLY = np.array([1.0, 0.9, 0.95, 1.0, 1.1, 0.7, 0.6])  # Monday .. Sunday
START = date(2026, 1, 5)  # a Monday


def days(n: int, start: date = START) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="D")


def weekly_series(n: int = 120, level: float = 200.0, seed: int = 1) -> pd.Series:
    index = days(n)
    rng = np.random.default_rng(seed)
    mean = level * WEEKLY[index.day_of_week]
    return pd.Series(rng.poisson(mean).astype(float), index=index)


def split(total: pd.Series, shares: dict[str, float], seed: int = 2) -> pd.DataFrame:
    """Split a total into parts by share (multinomial draws), one column per part."""
    rng = np.random.default_rng(seed)
    names, p = list(shares), np.array(list(shares.values()))
    draws = np.stack([rng.multinomial(int(n), p / p.sum()) for n in total.to_numpy()])
    return pd.DataFrame(draws.astype(float), index=total.index, columns=names)


def day_of(series: pd.Series, i: int) -> date:
    return series.index[i].date()
